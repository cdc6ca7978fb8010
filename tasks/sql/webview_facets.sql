-- The outlets and languages of the stories (their latest revision), with how many stories
-- each has: the choices of the story list's filters.
WITH latest AS (
    SELECT arg_max(outlet, revision) AS outlet, arg_max(language, revision) AS language
    FROM revisions
    GROUP BY article_id
)
SELECT 'outlet' AS facet, outlet AS value, count(*) AS stories
FROM latest WHERE outlet IS NOT NULL GROUP BY outlet
UNION ALL
SELECT 'language' AS facet, language AS value, count(*) AS stories
FROM latest WHERE language IS NOT NULL GROUP BY language
ORDER BY facet, stories DESC, value;
