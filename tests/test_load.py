"""Load stage (tasks/load.py): discovering files, folders and globs; file identities; reading
HTML, gzip and non-UTF-8 text; and every bad input recorded as a failure with a clear reason.

Real files in tmp dirs; the end-to-end case writes a real DuckDB ledger."""

from __future__ import annotations

import codecs
import gzip
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from newsledger.tasks.clean import clean_document
from newsledger.tasks.encoding import decode_text
from newsledger.tasks.load import (
    FileInput,
    discover_files,
    file_identity,
    load_documents,
    read_document,
)
from newsledger.tasks.models import FailedInput, SourceDocument
from newsledger.tasks.pipeline import ingest_paths
from newsledger.tasks.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED = REPO_ROOT / "seeds" / "articles" / "cnn-2025-09-02-idf-chief-netanyahu.txt"
LIMIT = 20 * 1024 * 1024

STORY = (
    "date 2025-01-02 By Ann Lee and Bo Chan, Reuters\n\n"
    "(Reuters) — The harbour reopened on Thursday after a week of repairs. Fishing boats "
    "lined up before dawn to get back to sea.\n\n"
    "Officials said the work cost less than expected and finished two days early.\n"
)
HTML = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
    "<title>Harbour reopens after repairs</title></head><body>"
    "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav><article>"
    "<h1>Harbour reopens after repairs</h1>"
    "<p>The harbour reopened on Thursday after a week of repairs, and fishing boats lined up "
    "before dawn to get back to sea for the first time since the storm.</p>"
    "<p>Officials said the work cost less than expected and finished two days early, which "
    "the mayor called a rare piece of good news for the waterfront.</p>"
    "</article><footer>Copyright 2025 Harbour Herald</footer></body></html>"
)


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def read(path: Path, max_bytes: int = LIMIT) -> SourceDocument:
    return read_document(FileInput(path, path.parent, explicit=True), max_bytes)


def load_one(path: Path, max_bytes: int = LIMIT) -> SourceDocument | FailedInput:
    discovery = discover_files([str(path)])
    assert discovery.failures == []
    (result,) = load_documents(discovery.inputs, max_bytes)
    return result


def failure_of(argument: str | Path, max_bytes: int = LIMIT) -> FailedInput:
    """The one failure that an argument turns into (at discovery or at load)."""
    discovery = discover_files([str(argument)])
    results = discovery.failures + [
        r for r in load_documents(discovery.inputs, max_bytes) if isinstance(r, FailedInput)
    ]
    assert len(results) == 1, results
    return results[0]


# --------------------------------------------------------------------------- discovery


def test_a_single_file_is_its_own_input_with_identity_relative_to_its_folder(
    tmp_path: Path,
) -> None:
    story = write(tmp_path / "news" / "harbour.txt", STORY)
    discovery = discover_files([str(story)])
    assert [i.path for i in discovery.inputs] == [story]
    assert discovery.inputs[0].explicit
    assert discovery.failures == [] and discovery.skipped == []
    document = read(story)
    assert document.identity == "file:harbour.txt"
    assert document.kind == "text"
    assert document.source == str(story)
    assert document.raw == STORY.encode("utf-8")


def test_folders_are_walked_recursively_with_identities_relative_to_the_folder_given(
    tmp_path: Path,
) -> None:
    root = tmp_path / "articles"
    write(root / "top.txt", STORY)
    write(root / "world" / "europe" / "deep.html", HTML)
    write(root / "world" / "page.htm", HTML)
    write(root / "archive" / "old.html.gz", gzip.compress(HTML.encode()))
    write(root / "README.md", "# notes about these articles\n")
    write(root / "world" / "feeds.yaml", "feeds: []\n")
    write(root / ".hidden.txt", STORY)
    write(root / ".git" / "inside-hidden-folder.txt", STORY)
    write(root / "__pycache__" / "cached.txt", STORY)

    discovery = discover_files([str(root)])
    documents = load_documents(discovery.inputs, LIMIT)
    assert all(isinstance(d, SourceDocument) for d in documents)
    identities = sorted(d.identity for d in documents if isinstance(d, SourceDocument))
    assert identities == [
        "file:archive/old.html.gz",
        "file:top.txt",
        "file:world/europe/deep.html",
        "file:world/page.htm",
    ]
    assert not any(i.explicit for i in discovery.inputs)
    # Other file types inside a folder are skipped (counted), not failures; hidden ignored.
    assert sorted(p.name for p in discovery.skipped) == ["README.md", "feeds.yaml"]
    assert discovery.failures == []
    everything = [str(i.path) for i in discovery.inputs] + [str(p) for p in discovery.skipped]
    assert not any(".hidden" in p or ".git" in p or "__pycache__" in p for p in everything)


def test_identity_survives_moving_the_checkout(tmp_path: Path) -> None:
    first = tmp_path / "checkout-a" / "seeds"
    write(first / "articles" / "story.txt", STORY)
    second = tmp_path / "elsewhere" / "checkout-b" / "seeds"
    shutil.copytree(first, second)
    ids = []
    for folder in (first, second):
        discovery = discover_files([str(folder)])
        (doc,) = load_documents(discovery.inputs, LIMIT)
        assert isinstance(doc, SourceDocument)
        ids.append((doc.identity, doc.article_id))
    assert ids[0] == ids[1]
    assert ids[0][0] == "file:articles/story.txt"


def test_identity_is_relative_to_files_root_when_configured(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    story = write(root / "2025" / "jan" / "harbour.txt", STORY)
    for argument in (root / "2025", story, root / "2025" / "jan"):
        discovery = discover_files([str(argument)], files_root=root)
        (doc,) = load_documents(discovery.inputs, LIMIT)
        assert isinstance(doc, SourceDocument)
        assert doc.identity == "file:2025/jan/harbour.txt"
    assert file_identity(story, root) == "file:2025/jan/harbour.txt"


def test_globs_expand_with_identity_relative_to_the_fixed_part_of_the_pattern(
    tmp_path: Path,
) -> None:
    root = tmp_path / "site"
    write(root / "a.html", HTML)
    write(root / "sub" / "b.html", HTML)
    write(root / "sub" / "c.txt", STORY)
    write(root / "sub" / ".d.html", HTML)

    recursive = discover_files([str(root / "**" / "*.html")])
    assert recursive.failures == []
    docs = [d for d in load_documents(recursive.inputs, LIMIT) if isinstance(d, SourceDocument)]
    assert sorted(d.identity for d in docs) == ["file:a.html", "file:sub/b.html"]
    assert all(i.explicit for i in recursive.inputs)

    flat = discover_files([str(root / "sub" / "*.txt")])
    (doc,) = load_documents(flat.inputs, LIMIT)
    assert isinstance(doc, SourceDocument)
    assert doc.identity == "file:c.txt"


def test_the_same_file_named_twice_is_read_once(tmp_path: Path) -> None:
    story = write(tmp_path / "dir" / "x.txt", STORY)
    discovery = discover_files([str(story), str(tmp_path / "dir"), str(tmp_path / "dir" / "*")])
    assert [i.path.resolve() for i in discovery.inputs] == [story.resolve()]


def test_two_files_with_one_identity_in_one_run_are_refused(tmp_path: Path) -> None:
    """a/x.txt and b/x.txt given as a/ and b/ both claim `file:x.txt`: storing both would make
    one story flip between them (two new revisions on every run)."""
    first = write(tmp_path / "a" / "x.txt", STORY)
    second = write(tmp_path / "b" / "x.txt", STORY.replace("harbour", "airport"))
    discovery = discover_files([str(tmp_path / "a"), str(tmp_path / "b")])
    assert [i.path for i in discovery.inputs] == [first]
    (failure,) = discovery.failures
    assert (failure.input, failure.stage, failure.error) == (
        str(second),
        "load",
        "identity_collision",
    )
    assert "'file:x.txt'" in failure.message and str(first) in failure.message

    settings = Settings(db=tmp_path / "ledger.duckdb")
    runs = [ingest_paths([str(tmp_path / "a"), str(tmp_path / "b")], settings) for _ in "12"]
    assert [(r.new, r.revised, r.unchanged, r.failed) for r in runs] == [(1, 0, 0, 1), (0, 0, 1, 1)]
    with duckdb.connect(str(settings.db), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM revisions").fetchone() == (1,)

    # Relative to a common files_root the two are different stories.
    rooted = discover_files([str(tmp_path / "a"), str(tmp_path / "b")], files_root=tmp_path)
    assert rooted.failures == [] and len(rooted.inputs) == 2


def test_url_header_sets_the_identity(tmp_path: Path) -> None:
    text = (
        "url: https://www.CNN.com/2025/09/02/middleeast/idf-chief?utm_source=twitter#top\n" + STORY
    )
    document = read(write(tmp_path / "x" / "story.txt", text))
    assert document.identity == "https://www.cnn.com/2025/09/02/middleeast/idf-chief"
    assert document.url == document.identity
    # The same story saved under another name is the same article.
    other = read(write(tmp_path / "y" / "renamed.txt", text))
    assert other.article_id == document.article_id
    # A url: line in the body (not the header block) does not count.
    body_url = read(write(tmp_path / "z.txt", STORY + "\nurl: https://example.com/other\n"))
    assert body_url.identity == "file:z.txt"


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("name", ["page.html", "page.htm", "page.HTML", "page.xhtml"])
def test_html_files_are_read_as_html(tmp_path: Path, name: str) -> None:
    document = load_one(write(tmp_path / name, HTML))
    assert isinstance(document, SourceDocument)
    assert document.kind == "html"
    assert document.raw == HTML.encode()
    cleaned = clean_document(document)
    assert "fishing boats lined up before dawn" in cleaned.text
    assert "Copyright 2025" not in cleaned.text


def test_gzipped_html_is_decompressed_and_hashed_on_its_content(tmp_path: Path) -> None:
    document = load_one(write(tmp_path / "page.html.gz", gzip.compress(HTML.encode())))
    assert isinstance(document, SourceDocument)
    assert document.kind == "html"
    assert document.raw == HTML.encode()
    plain = read(write(tmp_path / "plain" / "page.html", HTML))
    assert document.raw_hash == plain.raw_hash
    assert "harbour reopened on Thursday" in clean_document(document).text


TEXT_FR = "Le café du coin a rouvert après les travaux. « C'est la fête », dit René."
TEXT_EN = "He said “it’s over” – the café closed; the naïve plan failed … again."


@pytest.mark.parametrize(
    ("encoding", "text", "expected"),
    [
        ("latin-1", TEXT_FR, ["café", "après", "« C'est la fête »", "René"]),
        ("cp1252", TEXT_EN, ["“it’s over”", "–", "café", "naïve", "…"]),
        ("utf-16", TEXT_EN, ["“it’s over”", "naïve"]),
        ("utf-16-be", TEXT_FR, ["café", "René"]),
        ("utf-8-sig", TEXT_EN, ["“it’s over”", "naïve"]),
    ],
)
def test_non_utf8_text_is_decoded(
    tmp_path: Path, encoding: str, text: str, expected: list[str]
) -> None:
    story = "date 2025-01-02 By Ann Lee, Reuters\n\n" + text + "\n\nA second paragraph here.\n"
    raw = story.encode(encoding)
    if encoding == "utf-16-be":
        raw = codecs.BOM_UTF16_BE + raw
    document = load_one(write(tmp_path / "story.txt", raw))
    assert isinstance(document, SourceDocument), document
    cleaned = clean_document(document)
    for piece in expected:
        assert piece in cleaned.text
    assert cleaned.header["date"] == "2025-01-02"
    assert "\ufeff" not in cleaned.text and "\x00" not in cleaned.text


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize(("text", "expected"), [(TEXT_EN, "“it’s over”"), (TEXT_FR, "René")])
def test_utf16_text_without_a_bom_is_detected_and_decoded(
    tmp_path: Path, encoding: str, text: str, expected: str
) -> None:
    story = (
        "date 2025-01-02 By Ann Lee, Reuters\nurl: https://news.example.com/a/b\n\n"
        + text
        + "\n\nA second paragraph here, long enough to read as prose.\n"
    )
    path = write(tmp_path / "story.txt", story.encode(encoding))
    document = load_one(path)
    assert isinstance(document, SourceDocument), document  # not refused as binary
    assert document.identity == "https://news.example.com/a/b"  # the header was read
    cleaned = clean_document(document)
    assert expected in cleaned.text and "\x00" not in cleaned.text
    assert cleaned.header["date"] == "2025-01-02"
    assert decode_text(story.encode(encoding)) == story


def test_decode_text_prefers_utf8_then_detects() -> None:
    assert decode_text("naïve “quotes”".encode()) == "naïve “quotes”"
    assert decode_text(TEXT_EN.encode("cp1252")) == TEXT_EN
    assert decode_text(TEXT_FR.encode("latin-1")) == TEXT_FR


# --------------------------------------------------------------------------- failures


def test_unsupported_type_named_explicitly_is_a_failure(tmp_path: Path) -> None:
    pdf = write(tmp_path / "report.pdf", b"%PDF-1.7 not really")
    failure = failure_of(pdf)
    assert (failure.stage, failure.error) == ("load", "unsupported")
    assert str(pdf) in failure.message and ".pdf" in failure.message
    assert ".html" in failure.message  # tells the person what is supported


@pytest.mark.parametrize("content", [b"", b"   \n\n\t  \n"])
def test_empty_file_is_a_failure(tmp_path: Path, content: bytes) -> None:
    failure = failure_of(write(tmp_path / "empty.txt", content))
    assert (failure.stage, failure.error) == ("load", "empty")
    assert "empty" in failure.message


@pytest.mark.parametrize("name", ["image.txt", "image.html"])
def test_binary_file_is_a_failure(tmp_path: Path, name: str) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    failure = failure_of(write(tmp_path / name, png))
    assert (failure.stage, failure.error) == ("load", "binary")
    assert "binary" in failure.message


def test_oversized_file_is_a_failure(tmp_path: Path) -> None:
    big = write(tmp_path / "big.txt", STORY * 50)
    failure = failure_of(big, max_bytes=1000)
    assert (failure.stage, failure.error) == ("load", "oversized")
    assert "1,000" in failure.message and "NEWSLEDGER_MAX_FILE_BYTES" in failure.message
    # The same file under a limit it fits is read.
    assert isinstance(load_one(big, max_bytes=big.stat().st_size), SourceDocument)


def test_multi_member_gzip_is_read_whole(tmp_path: Path) -> None:
    half = len(HTML) // 2
    data = gzip.compress(HTML[:half].encode()) + gzip.compress(HTML[half:].encode())
    assert gzip.decompress(data) == HTML.encode()
    document = load_one(write(tmp_path / "page.html.gz", data))
    assert isinstance(document, SourceDocument)
    assert document.raw == HTML.encode()
    # The limit counts every member.
    failure = failure_of(tmp_path / "page.html.gz", max_bytes=half + 10)
    assert (failure.stage, failure.error) == ("load", "oversized")


def test_gzip_that_decompresses_beyond_the_limit_is_a_failure(tmp_path: Path) -> None:
    bomb = gzip.compress(b"<html><body><p>" + b"a" * 5_000_000 + b"</p></body></html>")
    assert len(bomb) < 10_000
    failure = failure_of(write(tmp_path / "bomb.html.gz", bomb), max_bytes=100_000)
    assert (failure.stage, failure.error) == ("load", "oversized")
    assert "decompresses to more than 100,000 bytes" in failure.message


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x1f\x8b\x08\x00garbage-after-a-gzip-magic", "not a valid gzip file"),
        (b"<html>not compressed at all</html>", "not a valid gzip file"),
        (gzip.compress(HTML.encode(), mtime=0)[:40], "truncated gzip file"),
    ],
)
def test_corrupt_gzip_is_a_failure(tmp_path: Path, data: bytes, reason: str) -> None:
    failure = failure_of(write(tmp_path / "page.html.gz", data))
    assert (failure.stage, failure.error) == ("load", "decode")
    assert reason in failure.message


def test_missing_path_is_a_failure(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "story.txt"
    failure = failure_of(missing)
    assert (failure.stage, failure.error) == ("load", "missing")
    assert failure.input == str(missing)
    assert "no such file or folder" in failure.message


def test_glob_matching_nothing_is_a_failure(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", STORY)
    pattern = str(tmp_path / "*.html")
    failure = failure_of(pattern)
    assert (failure.stage, failure.error) == ("load", "missing")
    assert "matches no file" in failure.message and pattern in failure.message


def test_bad_inputs_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    good = write(inputs / "good.txt", STORY)
    write(inputs / "good-page.html", HTML)
    empty = write(inputs / "empty.txt", b"")
    binary = write(inputs / "binary.html", b"\x00\x01\x02" * 100)
    corrupt = write(inputs / "corrupt.html.gz", b"\x1f\x8b\x08\x00xxxxxxxx")
    big = write(inputs / "big.html", HTML * 20)
    write(inputs / "notes.md", "not an article")
    pdf = write(tmp_path / "report.pdf", b"%PDF")
    missing = tmp_path / "missing.txt"
    settings = Settings(db=tmp_path / "ledger.duckdb", max_file_bytes=len(HTML.encode()) * 10)

    summary = ingest_paths(
        [str(inputs), str(pdf), str(missing), str(tmp_path / "*.nothing")], settings
    )

    assert (summary.new, summary.failed, summary.skipped) == (2, 7, 1)
    with duckdb.connect(str(settings.db), read_only=True) as conn:
        failures = conn.execute(
            "SELECT input, stage, error, message FROM failures ORDER BY input"
        ).fetchall()
        stored = conn.execute("SELECT source FROM revisions ORDER BY source").fetchall()
        run = conn.execute(
            "SELECT status, new_count, failed_count, skipped_count FROM ingest_runs"
        ).fetchone()
    assert {(row[0], row[2]) for row in failures} == {
        (str(empty), "empty"),
        (str(binary), "binary"),
        (str(corrupt), "decode"),
        (str(big), "oversized"),
        (str(pdf), "unsupported"),
        (str(missing), "missing"),
        (str(tmp_path / "*.nothing"), "missing"),
    }
    assert all(row[1] == "load" and row[3] for row in failures)
    assert [row[0] for row in stored] == [str(inputs / "good-page.html"), str(good)]
    assert run == ("completed", 2, 7, 1)


def test_unreadable_folder_entries_do_not_stop_discovery(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root / "ok.txt", STORY)
    os.symlink(tmp_path / "does-not-exist.txt", root / "dangling.txt")
    discovery = discover_files([str(root)])
    results = load_documents(discovery.inputs, LIMIT)
    ok = [r for r in results if isinstance(r, SourceDocument)]
    failed = [r for r in results if isinstance(r, FailedInput)]
    assert [d.identity for d in ok] == ["file:ok.txt"]
    assert len(failed) == 1 and failed[0].stage == "load"
    assert "dangling.txt" in failed[0].message


def test_seed_file_loads() -> None:
    document = read(SEED)
    assert document.identity == f"file:{SEED.name}"
    assert document.kind == "text"
    assert document.raw.startswith(b" date 2025-09-02 By Tal Shalev")
