"""The comparison form of a story: what the revision rule compares, so that page noise that
slips through extraction makes no revision while any edit of the story does.

The stored text is never changed; only the form it is compared in is. The form of a text is
its blocks (paragraphs, headings, list items: the ``\\n\\n``-separated parts of the stored
text), each

* normalised: Unicode NFKC, typographic quotes and dashes to ASCII, zero-width characters and
  soft hyphens removed, white space folded (a reflowed page reads the same);
* dropped when the WHOLE block is one of a closed list of boilerplate forms: an ad label
  ("Advertisement", "Anzeige", "Publicité", "Story continues below advertisement"), or one
  such word and the ad's own line after it (at most 16 words, no final punctuation:
  "Advertisement Save 20% on home insurance today"), a
  related-links block ("Related: …", "Read more: …" of at most 25 words, or a "Related
  stories" / "Lesen Sie auch" heading and the short link lines without final punctuation
  right after it), a log-in / subscribe prompt (a short block that starts like one), a share
  or comment counter ("123 comments", "Share", "Comments (4)") and a page timestamp (a block
  of nothing but "3 minutes ago", or a date and time of day, or a date after an
  "Updated"/"Published" label; a bare date line is story text).

Every other block is kept, in order, character for character (after normalisation), and the
text form is the kept blocks joined by one space, so a split or merged paragraph is no edit.
An edit hides only when both its before and its after are whole boilerplate blocks: a
changed number, a new or dropped sentence or paragraph, an appended update note, or a new
headline changes a kept block (or removes one) and so the form. Letter case is kept.

``story_hash`` is versioned (``story-v2:…``): when these rules change, a stored hash of
another version is not compared; the form of the stored text is derived again instead.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

STORY_FORM_VERSION = "story-v2"  # v2: an ad label with its creative line

_REPLACEMENTS = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u0060\u00b4", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb\u2039\u203a", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
    **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u00ad", ""),
}
# A regex finds the few characters to replace (str.translate looks up every character).
_SPECIAL = re.compile("[" + re.escape("".join(_REPLACEMENTS)) + "]")
_SPACE = re.compile(r"\s+")
BLOCK_BREAK = "\n\n"


def normalise(text: str) -> str:
    """NFKC, ASCII quotes and dashes, no zero-width characters, white space folded."""
    composed = (
        text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)
    )
    replaced = _SPECIAL.sub(lambda match: _REPLACEMENTS[match.group()], composed)
    return _SPACE.sub(" ", replaced).strip()


def _alternatives(words: Sequence[str]) -> str:
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


AD_LABELS = (
    "advertisement",
    "advertisment",
    "advert",
    "ad",
    "ads",
    "sponsored",
    "sponsored content",
    "paid content",
    "paid post",
    "promoted",
    "promoted content",
    "anzeige",
    "werbung",
    "publicité",
    "publicite",
    "publicidad",
    "pubblicità",
    "reklama",
    "reclame",
    "advertentie",
    "annons",
    "mainos",
    "реклама",
    "広告",
    "광고",
    "广告",
    "advertisement - scroll to continue",
    "scroll to continue with content",
    "story continues below advertisement",
    "article continues below advertisement",
    "article continues below",
    "story continues below",
    "continue reading below",
    "continue reading the main story",
    "weiterlesen nach der anzeige",
    "artikel wird nach der anzeige fortgesetzt",
    "la suite après cette publicité",
    "la suite après la publicité",
)
RELATED_LABELS = (
    "related",
    "related stories",
    "related story",
    "related articles",
    "related article",
    "related content",
    "related coverage",
    "related links",
    "related news",
    "related topics",
    "read more",
    "read next",
    "read also",
    "also read",
    "see also",
    "more on this story",
    "more stories",
    "more news",
    "more from this section",
    "you may also like",
    "you might also like",
    "recommended",
    "recommended stories",
    "recommended for you",
    "most read",
    "most popular",
    "trending",
    "trending now",
    "top stories",
    "lesen sie auch",
    "lesen sie mehr",
    "mehr zum thema",
    "auch interessant",
    "das könnte sie auch interessieren",
    "weitere artikel",
    "à lire aussi",
    "a lire aussi",
    "lire aussi",
    "sur le même sujet",
    "leer más",
    "lea también",
    "te puede interesar",
    "noticias relacionadas",
    "leggi anche",
    "articoli correlati",
    "czytaj także",
    "čtěte také",
    "читайте также",
)
SHARE_WIDGETS = (
    "share",
    "share this",
    "share this article",
    "share this story",
    "share on facebook",
    "share on twitter",
    "share on x",
    "share via email",
    "tweet",
    "email",
    "print",
    "copy link",
    "link copied",
    "save",
    "save article",
    "comments",
    "comment",
    "view comments",
    "show comments",
    "leave a comment",
    "teilen",
    "artikel teilen",
    "kommentare",
    "partager",
    "commentaires",
    "compartir",
    "comentarios",
    "condividi",
)
_COUNTER_NOUNS = (
    "comments?|shares?|replies|reply|reactions?|likes?|views?|reads?|kommentare?|"
    "commentaires?|comentarios?|commenti|partages?|aufrufe|reacties"
)
_AD = re.compile(rf"^(?:{_alternatives(AD_LABELS)})[.:]?$")
# An ad label and the creative's line after it in one block ("Advertisement Save 20% on home
# insurance today"): the label, then a short line without final punctuation (a story sentence
# that starts with the word, "Advertisement spending rose 5% this year.", ends like one).
# Only labels that name nothing but an ad slot: "Anzeige gegen Unbekannt" (a police report)
# and "Werbung für …" (advertising as a topic) are headings of stories.
AD_SLOT_LABELS = (
    "advertisement",
    "advertisment",
    "sponsored",
    "promoted",
    "publicité",
    "publicite",
    "publicidad",
    "pubblicità",
)
_AD_CREATIVE = re.compile(
    rf"^(?:{_alternatives(AD_SLOT_LABELS)})"
    r"\s*[:|-]?\s+\S"
)
MAX_AD_CREATIVE_WORDS = 16
_RELATED_HEADING = re.compile(rf"^(?:{_alternatives(RELATED_LABELS)})\s*:?$")
_RELATED_INLINE = re.compile(rf"^(?:{_alternatives(RELATED_LABELS)})\s*[:|>»-]\s*\S")
_SHARE = re.compile(rf"^(?:{_alternatives(SHARE_WIDGETS)})$")
_COUNTER = re.compile(
    rf"^(?:\d[\d.,]*\s*[km]?\+?\s*(?:{_COUNTER_NOUNS})"
    rf"|(?:{_COUNTER_NOUNS})\s*[:(]?\s*\d[\d.,]*\s*[km]?\+?\)?)$"
)
_PROMPT = re.compile(
    r"^(?:please\s+)?(?:sign\s*(?:in|up)|log\s*(?:in|on)|login|subscribe|register\s+(?:now|for\s+free)|"
    r"already\s+(?:a\s+subscriber|subscribed|have\s+an\s+account|registered)|create\s+(?:a|"
    r"your)\s+(?:free\s+)?account|become\s+a\s+(?:member|subscriber)|get\s+(?:unlimited|full)\s+"
    r"access|unlock\s+(?:this|unlimited)|to\s+continue\s+reading|continue\s+reading\s+with|"
    r"jetzt\s+(?:abonnieren|anmelden|registrieren)|abonnieren|anmelden|abonnez-vous|"
    r"se\s+connecter|connectez-vous|suscr[ií]bete|inicia\s+sesi[oó]n|iniciar\s+sesi[oó]n)\b"
)
# …and a prompt names what it sells (or is a bare button of up to 3 words): "Log in twice,
# officials said." is story text.
_PROMPT_OBJECT = re.compile(
    r"account|subscri|member|newsletter|premium|read|continue|access|free|offer|trial|"
    r"abonn|konto|artikel|inscri|suscrip|compte|cuenta|email|e-mail"
)
_RELATIVE_TIME = re.compile(
    r"^(?:(?:last\s+)?(?:updated|published|posted|modified)\s*:?\s*)?"
    r"(?:(?:about\s+|over\s+)?(?:an?|\d+)\s*(?:s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|"
    r"d|days?|w|weeks?|months?|years?)\s+ago|just\s+now|yesterday|today"
    r"|(?:aktualisiert\s+)?vor\s+\d+\s+(?:sekunden|minuten|stunden|tagen)"
    r"|(?:mis\s+à\s+jour\s+)?il\s+y\s+a\s+\d+\s+(?:secondes?|minutes?|heures?|jours?)"
    r"|(?:actualizado\s+)?hace\s+\d+\s+(?:segundos?|minutos?|horas?|d[ií]as?))$"
)
_STAMP_LABEL = re.compile(
    r"^(?:(?:last\s+)?(?:updated|published|posted|modified|first\s+published|updated\s+on|"
    r"published\s+on|posted\s+on)|aktualisiert(?:\s+am)?|veröffentlicht(?:\s+am)?|stand|"
    r"mis\s+à\s+jour(?:\s+le)?|publié(?:\s+le)?|actualizado|publicado|aggiornato|"
    # when the page itself was made or served: "Page generated 12:03 UTC", "As of 10:32"
    r"(?:(?:this\s+)?page\s+)?(?:generated|rendered|cached|served|retrieved|loaded)"
    r"(?:\s+(?:at|on))?|as\s+of|seite\s+(?:erstellt|generiert)(?:\s+(?:am|um))?|"
    r"zuletzt\s+aktualisiert(?:\s+am)?|page\s+générée(?:\s+(?:le|à))?)\s*:?\s*"
)
_CALENDAR_NAME = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|"
    r"januar|februar|märz|mai|juni|juli|oktober|dezember|janvier|février|mars|avril|juin|"
    r"juillet|août|septembre|octobre|novembre|décembre|enero|febrero|marzo|abril|mayo|junio|"
    r"julio|agosto|septiembre|octubre|noviembre|diciembre|"
    r"mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|"
    r"sat(?:urday)?|sun(?:day)?|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|"
    r"lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
)
# What makes an unlabelled run of stamp words a page timestamp: a clock time or am/pm. A bare
# date ("April 2, 2024", "23.10.2018") stays story text: a page's stamp that changes between
# visits states a time or a label, and a changed date line is an edit.
_STAMP_ANCHOR = re.compile(r"(?:^|\s)(?:[01]?\d|2[0-3])[:h][0-5]\d|\d\s*[ap]\.?m\.?(?!\w)")
_STAMP_WORD = re.compile(
    rf"{_CALENDAR_NAME}|\d{{1,4}}(?:[:./-]\d{{1,4}})*(?:st|nd|rd|th|h|\.)?|a\.?m\.?|p\.?m\.?|"
    r"at|on|um|uhr|à|le|de|del|el|the|of|utc|gmt|z|est|edt|cst|cdt|mst|mdt|pst|pdt|et|ct|pt|"
    r"bst|cet|cest|eet|eest|ist|jst|kst|aest|aedt|msk|hkt|sgt|hst|akst|akdt|nzst|nzdt|mez|mesz"
)
_STAMP_SEPARATORS = re.compile(r"[,|·•()\[\]/]+|\s-\s")
MAX_INLINE_RELATED_WORDS = 25
MAX_BOILERPLATE_WORDS = MAX_INLINE_RELATED_WORDS  # the longest form below
MAX_RELATED_LINES = 12
MAX_LINK_LINE_WORDS = 20
MAX_TIMESTAMP_WORDS = 16
MAX_PROMPT_WORDS = 20
_SENTENCE_END = re.compile(r"[.!?:;]['\")\]]*$")


def _is_timestamp(folded: str) -> bool:
    """Nothing but a date and/or time with at least one digit, and either a label ("Updated
    June 13, 2019") or a clock time ("10:32 AM EST, Tue September 2, 2025")."""
    if not any(c.isdigit() for c in folded):
        return False
    unlabelled = _STAMP_LABEL.sub("", folded)
    words = _STAMP_SEPARATORS.sub(" ", unlabelled).split()
    if not words or not all(_STAMP_WORD.fullmatch(w) for w in words):
        return False
    return unlabelled != folded or bool(_STAMP_ANCHOR.search(" ".join(words)))


def boilerplate_kind(block: str) -> str | None:
    """Which boilerplate form a whole (normalised) block is, or None for story text."""
    folded = block.casefold().strip(" *•·|-")
    if not folded:
        return "empty"
    words = len(folded.split())
    if words > MAX_BOILERPLATE_WORDS:
        return None  # every form below is shorter: most story paragraphs stop here
    if _AD.match(folded):
        return "ad_label"
    if (
        words <= MAX_AD_CREATIVE_WORDS
        and _AD_CREATIVE.match(folded)
        and not _SENTENCE_END.search(folded)
    ):
        return "ad_label"
    if _SHARE.match(folded) or _COUNTER.match(folded):
        return "counter"
    if words <= MAX_TIMESTAMP_WORDS and (_RELATIVE_TIME.match(folded) or _is_timestamp(folded)):
        return "timestamp"
    if _RELATED_INLINE.match(folded) and words <= MAX_INLINE_RELATED_WORDS:
        return "related_links"
    if (
        _PROMPT.match(folded)
        and words <= MAX_PROMPT_WORDS
        and (words <= 3 or _PROMPT_OBJECT.search(folded))
    ):
        return "prompt"
    return None


def _is_link_line(block: str) -> bool:
    """A line of a related-links list: short and without final punctuation (a headline)."""
    return len(block.split()) <= MAX_LINK_LINE_WORDS and not _SENTENCE_END.search(block)


@dataclass(frozen=True)
class ComparisonForm:
    """The kept (normalised) blocks of a text, and how many blocks were left out."""

    blocks: tuple[str, ...]
    dropped: int

    @property
    def text(self) -> str:
        return " ".join(self.blocks)


def comparison_form(text: str) -> ComparisonForm:
    """The story blocks of a stored text (see the module doc for what is left out)."""
    kept: list[str] = []
    dropped = 0
    related_lines = 0  # link lines still to drop after a "Related stories" heading
    for raw_block in text.split(BLOCK_BREAK):
        block = normalise(raw_block)
        if related_lines and block and _is_link_line(block):
            dropped += 1
            related_lines -= 1
            continue
        related_lines = 0
        if not block:
            continue
        if _RELATED_HEADING.match(block.casefold().strip(" *•·|-")):
            related_lines = MAX_RELATED_LINES
            dropped += 1
            continue
        if boilerplate_kind(block) is not None:
            dropped += 1
            continue
        kept.append(block)
    return ComparisonForm(tuple(kept), dropped)


# A story whose text is the page's JSON-LD ``articleBody`` also hashes the form of the text
# shown on the page (trafilatura's), so an edit of the page that the page's structured data
# does not carry still makes a revision; such hashes read ``story-v2+visible:…``.
VISIBLE_SUFFIX = "+visible"


def story_hash(
    title: str | None,
    authors: Sequence[str],
    text: str | ComparisonForm,
    visible: str | ComparisonForm | None = None,
) -> str:
    """``story-v2:`` + SHA-256 of the comparison forms of title, authors and text (``text``
    may be given as its comparison form already); with ``visible`` (the page's shown text
    when ``text`` is its articleBody) ``story-v2+visible:`` + the hash of all four."""
    form = text if isinstance(text, ComparisonForm) else comparison_form(text)
    fields: dict[str, object] = {
        "title": normalise(title or ""),
        "authors": [normalise(a) for a in authors],
        "text": form.text,
    }
    prefix = STORY_FORM_VERSION
    if visible is not None:
        shown = visible if isinstance(visible, ComparisonForm) else comparison_form(visible)
        fields["visible"] = shown.text
        prefix += VISIBLE_SUFFIX
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return f"{prefix}:{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def has_visible(stored_story_hash: str | None) -> bool:
    """A story hash that covers the page's shown text beside its articleBody."""
    return str(stored_story_hash or "").startswith(f"{STORY_FORM_VERSION}{VISIBLE_SUFFIX}:")


def is_current(stored_story_hash: str | None) -> bool:
    """A stored story hash made by these rules (else derive it again from the stored text)."""
    return bool(stored_story_hash) and (
        str(stored_story_hash).startswith(f"{STORY_FORM_VERSION}:")
        or has_visible(stored_story_hash)
    )


@dataclass(frozen=True)
class BlockChanges:
    """How the story blocks of two texts differ (a paragraph-level diff)."""

    added: int
    removed: int
    changed: int


def block_changes(before: ComparisonForm, after: ComparisonForm) -> BlockChanges:
    from difflib import SequenceMatcher

    added = removed = changed = 0
    matcher = SequenceMatcher(None, before.blocks, after.blocks, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "insert":
            added += j2 - j1
        elif tag == "delete":
            removed += i2 - i1
        elif tag == "replace":
            common = min(i2 - i1, j2 - j1)
            changed += common
            added += (j2 - j1) - common
            removed += (i2 - i1) - common
    return BlockChanges(added, removed, changed)
