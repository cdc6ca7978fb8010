"""One typed settings object for the whole project (environment prefix ``NEWSLEDGER_``).

Every knob lives here; nothing reads ``os.environ`` for its own configuration. Build one with
``Settings()`` (environment + defaults) or ``Settings(db=...)`` in tests, and pass it down.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Settings(BaseSettings):
    """Configuration of newsledger. Each field can be set as ``NEWSLEDGER_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="NEWSLEDGER_", extra="ignore")

    # --- storage -----------------------------------------------------------------------
    db: Path = Field(Path("data/newsledger.duckdb"), description="DuckDB ledger file")
    lock_timeout_seconds: float = Field(
        120.0, description="How long a writer waits for another process's file lock"
    )
    batch_size: int = Field(
        250,
        ge=1,
        description="Inputs per write transaction / task (each costs an open, a commit and a "
        "checkpoint of the file: ~60-100 ms)",
    )
    batch_max_age_seconds: float = Field(
        5.0,
        gt=0,
        description="A batch of fetched pages is closed (extracted, then written) this long "
        "after its first page arrived, full or not: a page is stored soon after it is fetched",
    )
    pipeline_overlap: bool = Field(
        True,
        description="Web runs fetch, extract and write at once (batch N written while N+1 is "
        "extracted and N+2 fetched); false: one batch after the other (the old serial path, "
        "kept as the benchmarks' baseline)",
    )

    # --- WARC archive (tasks/archive) -------------------------------------------------------
    warc_enabled: bool = Field(
        True,
        description="Write every HTTP exchange of the web path (feeds, pages, robots.txt, "
        "redirect hops, retries; 304s as revisit records) to the WARC archive; false: none",
    )
    warc_dir: Path | None = Field(
        None, description="Folder of the .warc.gz files (default: warc/ beside the ledger)"
    )
    warc_max_file_mb: float = Field(
        1024.0,
        gt=0,
        description="A .warc.gz file is closed, and the next record starts a new one, once it "
        "reaches this size (MB)",
    )

    # --- querying (newsledger sql / search / export) ---------------------------------------------
    query_timeout_seconds: float = Field(
        60.0,
        gt=0,
        description="A user's SQL query is stopped after this long, fetching and printing or "
        "writing its result included",
    )
    query_memory_limit: str = Field("2GB", description="DuckDB memory limit for a user's SQL")
    query_process_memory_mb: int = Field(
        3072,
        ge=0,
        description="Address space (RLIMIT_AS) `newsledger sql`/`export` may add to the process "
        "while a query runs and its result is written: DuckDB's own limit misses lists, long "
        "strings and the Python side (0: no cap)",
    )
    query_max_rows_shown: int = Field(
        1000, ge=1, description="Rows `newsledger sql` shows in a table (csv/json/files: all)"
    )
    query_max_value_chars: int = Field(
        1000, ge=1, description="Characters of one value `newsledger sql` shows in a table"
    )
    search_chunk_revisions: int = Field(
        5000, ge=1, description="Revisions indexed per search-index transaction"
    )
    search_merge_fanout: int = Field(
        8, ge=2, description="Search-index runs of one level merged together"
    )
    search_max_merge_postings: int = Field(
        16_000_000, ge=1, description="Largest search-index merge (postings rewritten at once)"
    )

    # --- local files -----------------------------------------------------------------------
    max_file_bytes: int = Field(20 * 1024 * 1024, ge=1, description="Largest file loaded")
    files_root: Path | None = Field(
        None, description="Folder that file identities are relative to (default: the folder given)"
    )
    trust_file_stat: bool = Field(
        True,
        description="Take a file whose size, mtime, ctime and inode are those of its last "
        "observation as unchanged without reading it (git's and rsync's quick check); "
        "false: read and hash every file",
    )

    # --- extraction -----------------------------------------------------------------------------
    extraction_mode: Literal["fast", "precise"] = Field(
        "precise",
        description="trafilatura mode for HTML: precise compares its extraction with its "
        "readability/justext fallbacks; fast skips that and truncates some articles to their "
        "lead paragraph or a menu (see bench_quality)",
    )
    extract_workers: int | None = Field(
        None,
        ge=0,
        description="Extraction worker processes (default: the CPUs this process may use); "
        "0: extract in-process, with no time or memory limit",
    )
    extract_timeout_seconds: float = Field(
        20.0, gt=0, description="Hard wall-time limit of one page's extraction in a worker"
    )
    extract_max_elements: int = Field(
        100_000,
        ge=0,
        description="A page whose parsed HTML has more elements than this is refused before "
        "extraction (too_many_elements): trafilatura's cost grows faster than the page, and "
        "ordinary article markup of this size already takes it longer than the time limit; "
        "0: no limit",
    )
    extract_memory_mb: int = Field(
        1024,
        ge=0,
        description="Resident-memory cap of each extraction worker: a page that takes it past "
        "this is stopped (extraction_memory); 0: none",
    )

    # --- orchestration ---------------------------------------------------------------------
    orchestration: Literal["auto", "prefect", "local"] = Field(
        "auto",
        description="auto: a Prefect flow run when PREFECT_API_URL points at a live server, "
        "else run the same steps in-process; prefect: always a flow run; local: never",
    )
    prefect_home: Path = Field(Path(".prefect"), description="Project-local PREFECT_HOME")
    write_limit: str = Field(
        "newsledger-ledger-writes",
        description="Prefect global concurrency limit (1 slot) that writes go through "
        "when a Prefect server is configured",
    )
    write_slot_timeout_seconds: float = Field(
        900.0, gt=0, description="How long a write waits for the Prefect write slot"
    )
    write_lease_seconds: float = Field(
        60.0,
        ge=60.0,
        description="Lease of a held write slot; a killed writer's slot comes back after it",
    )
    web_base_url: str | None = Field(
        None,
        description="Where `newsledger web` is reached (e.g. http://127.0.0.1:8000): "
        "notifications of changed stories link to its story and diff pages; unset: no links",
    )
    serve_poll_seconds: float = Field(
        2.0,
        gt=0,
        description="How often `newsledger serve` looks for flow runs to start when no event "
        "woke it (a new run's event wakes it at once; each look is a write on the server)",
    )
    serve_run_limit: int = Field(
        4, ge=1, description="Flow runs `newsledger serve` runs at once (each is a process)"
    )
    watch_factor_step: float = Field(
        2.0, gt=1.0, description="A revised story is revisited this much more often"
    )
    watch_factor_max: float = Field(8.0, ge=1.0, description="Cap on a story's watch factor")

    # --- web (fetching) ---------------------------------------------------------------------
    user_agent: str = Field("newsledger/0.1 (+https://github.com/newsledger/newsledger)")
    contact: str | None = Field(None, description="Contact (mail or URL) added to User-Agent")
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = Field(60.0, description="Deadline for one whole response")
    max_redirects: int = 5
    max_response_bytes: int = Field(10 * 1024 * 1024, description="Cap on the raw body")
    max_decompressed_bytes: int = Field(
        30 * 1024 * 1024, description="Cap on the body after gzip/brotli/deflate decoding"
    )
    max_retries: int = 3
    url_budget_seconds: float = Field(
        90.0,
        gt=0,
        description="Total time one URL may take across its retries (from its first request, "
        "backoff included): a slow host delays only its own pages",
    )
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    per_host_concurrency: int = 2
    per_host_delay_seconds: float = 1.0
    global_concurrency: int = 32
    respect_robots: bool = True
    max_crawl_delay_seconds: float = Field(
        30.0,
        ge=0,
        description="Cap on a robots.txt Crawl-delay (seconds between requests to its host); "
        "a longer one is honoured as this long",
    )
    robots_cache_hours: float = Field(
        24.0,
        ge=0,
        le=24,
        description="How long a fetched robots.txt is reused by later runs (RFC 9309: at most "
        "24 hours; 0: ask every run)",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts or CIDR ranges exempt from the private-address guard (comma list)",
    )
    max_failure_attempts: int = Field(5, description="Give up a failing URL after this many")
    retry_base_minutes: float = Field(15.0, description="First retry delay of a failed URL")

    # --- feeds and revisits -------------------------------------------------------------------
    feeds_file: Path = Field(Path("seeds/feeds.yaml"), description="Feed list for `poll`")
    feed_interval_minutes: int = Field(15, ge=1, description="Default feed polling interval")
    refresh_min_minutes: float = Field(15.0, description="Shortest revisit interval")
    refresh_max_minutes: float = Field(7 * 24 * 60.0, description="Longest revisit interval")
    refresh_age_factor: float = Field(
        0.25, description="Revisit interval = factor × time since the story last changed"
    )
    max_pages_per_poll: int = Field(2000, ge=1, description="New pages fetched per poll at most")

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def warc_folder(self) -> Path:
        """Where the WARC files go: ``warc_dir``, or ``warc/`` beside the ledger."""
        return self.warc_dir if self.warc_dir is not None else self.db.parent / "warc"

    @property
    def warc_max_file_bytes(self) -> int:
        return max(1, int(self.warc_max_file_mb * 1024 * 1024))

    @property
    def full_user_agent(self) -> str:
        return f"{self.user_agent} {self.contact}" if self.contact else self.user_agent

    def allowed_networks(self) -> list[Network]:
        """The CIDR entries of ``allowed_hosts`` (plain addresses become /32 or /128)."""
        networks: list[Network] = []
        for entry in self.allowed_hosts:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue  # a host name, matched by name
        return networks

    def allowed_names(self) -> set[str]:
        """The host-name entries of ``allowed_hosts``, lower-cased."""
        names: set[str] = set()
        for entry in self.allowed_hosts:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                names.add(entry.lower().strip("[]"))
        return names
