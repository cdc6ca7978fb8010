-- The outlets and languages of the stories (their latest revision, from story_summary), with
-- how many stories each has: the choices of the story list's filters.
SELECT 'outlet' AS facet, outlet AS value, count(*) AS stories
FROM story_summary WHERE outlet IS NOT NULL GROUP BY outlet
UNION ALL
SELECT 'language' AS facet, language AS value, count(*) AS stories
FROM story_summary WHERE language IS NOT NULL GROUP BY language
ORDER BY facet, stories DESC, value;
