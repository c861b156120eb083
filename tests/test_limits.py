"""Resource limits and plain user mistakes: a query held to memory and time, a review workbook held
to a size and a row count (and a repeated review stored once), a warehouse locked by another
process, and paths that are not what a command needs, each ending in a sentence, not a traceback.

Fast: warehouses are scored with the hashing encoder; a read-write holder is a small subprocess.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from compare.cli.main import app
from compare.errors import LimitError, ReviewError, SettingsError, WarehouseError, WarehouseLockedError
from compare.review import workbook as workbooks
from compare.review.importing import NOTE_SEPARATOR, import_workbook
from compare.review.workbook import export_workbook, read_workbook
from compare.settings import Settings, size_bytes
from compare.store import export, warehouse
from tests.conftest import ROOT
from tests.review_helpers import fill, sheet_rows

runner = CliRunner()

#: A cross join whose result (900 million numbers in one list) would take about 8 GB.
HUGE_LIST = "SELECT list(a.range) FROM range(30000) a, range(30000) b"
#: A cross join that computes for minutes (10^10 products) in constant memory.
LONG_SUM = "SELECT sum(a.range * b.range) FROM range(100000) a, range(100000) b"
#: Seconds a query past its time limit may take to stop, on a busy machine.
STOPS_WITHIN_S = 15.0

#: Holds a read-write connection to the file in argv[1] until its stdin closes.
HOLDER = (
    "import sys, duckdb\n"
    "con = duckdb.connect(sys.argv[1])\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
    "con.close()\n"
)


@pytest.fixture(scope="module")
def scored(tmp_path_factory, two_plans):
    """A warehouse of two sample plans and its blank review workbook."""
    _, path = two_plans
    book, _ = export_workbook(path, tmp_path_factory.mktemp("limits") / "blank.xlsx")
    return path, book


@pytest.fixture
def copies(scored, tmp_path):
    path, book = scored
    shutil.copy(path, tmp_path / "w.duckdb")
    shutil.copy(book, tmp_path / "review.xlsx")
    return tmp_path / "w.duckdb", tmp_path / "review.xlsx"


@pytest.fixture
def empty(tmp_path):
    """A warehouse with the schema and no rows."""
    path = tmp_path / "empty.duckdb"
    with warehouse.snapshot(path):
        pass
    return path


class Holder:
    """A process that holds a read-write DuckDB connection to ``path`` until ``release``."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "held"
        self.pid = self.process.pid

    def release(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=30)


@pytest.fixture
def held(copies):
    path, book = copies
    holder = Holder(path)
    yield path, book, holder
    holder.release()


def _output(result) -> str:
    return re.sub(r"\s+", " ", result.output)


# --- settings ---------------------------------------------------------------------------------------


def test_limits_are_settings_with_defaults_and_variables():
    s = Settings()
    assert (s.query_memory_limit, s.query_timeout_s, s.query_rows) == ("1GB", 60.0, 1000)
    assert (s.review_max_bytes, s.review_max_rows) == (25_000_000, 50_000)
    env = {
        "COMPARE_QUERY_MEMORY_LIMIT": "4GB",
        "COMPARE_QUERY_TIMEOUT_S": "2.5",
        "COMPARE_QUERY_ROWS": "20",
        "COMPARE_REVIEW_MAX_BYTES": "40MB",
        "COMPARE_REVIEW_MAX_ROWS": "200000",
    }
    s = Settings.from_env(env)
    assert (s.query_memory_limit, s.query_timeout_s, s.query_rows) == ("4GB", 2.5, 20)
    assert (s.review_max_bytes, s.review_max_rows) == (40_000_000, 200_000)


@pytest.mark.parametrize(
    ("text", "expected"), [("1GB", 10**9), ("512MiB", 2**29), ("0", 0), ("1.5 gb", 1_500_000_000), ("64", 64)]
)
def test_sizes_read_as_duckdb_writes_them(text, expected):
    assert size_bytes(text) == expected


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"query_memory_limit": "lots"}, "not a size"),
        ({"query_memory_limit": "0"}, "more than 0"),
        ({"query_timeout_s": 0}, "more than 0 seconds"),
        ({"review_max_rows": 0}, "at least 1"),
        ({"review_max_bytes": "big"}, "not a size"),
    ],
)
def test_bad_limits_are_refused(overrides, message):
    with pytest.raises(SettingsError, match=message):
        Settings().with_overrides(**overrides)


# --- compare query ----------------------------------------------------------------------------------


def test_a_query_past_its_memory_limit_stops_naming_the_limit_and_its_setting(empty):
    started = time.monotonic()
    with pytest.raises(LimitError) as caught:
        export.query(empty, HUGE_LIST, limits=export.QueryLimits(memory="64MB"))
    assert time.monotonic() - started < STOPS_WITHIN_S
    assert "memory limit of 64MB" in str(caught.value)
    assert caught.value.setting == "COMPARE_QUERY_MEMORY_LIMIT" and "--memory-limit" in str(caught.value)


def test_a_query_spills_nothing_beside_the_warehouse(empty):
    sort = "SELECT a.range, b.range FROM range(5000) a, range(5000) b ORDER BY a.range * 7 % 13, b.range DESC"
    with pytest.raises(LimitError, match="memory limit of 64MB"):
        export.query(empty, sort, limits=export.QueryLimits(memory="64MB"))
    assert sorted(p.name for p in empty.parent.iterdir()) == ["empty.duckdb", "empty.duckdb.lock"]


def test_a_query_past_its_time_limit_is_interrupted(empty):
    started = time.monotonic()
    with pytest.raises(LimitError) as caught:
        export.query(empty, LONG_SUM, limits=export.QueryLimits(timeout_s=0.5))
    assert time.monotonic() - started < STOPS_WITHIN_S
    assert "time limit of 0.5 s" in str(caught.value) and caught.value.setting == "COMPARE_QUERY_TIMEOUT_S"
    # the query was stopped, not left running: nothing of this process still computes
    assert [t.name for t in threading.enumerate() if t.name == "compare-query"] == []


def test_the_query_command_takes_its_limits_from_flags_and_variables(empty, monkeypatch):
    result = runner.invoke(app, ["query", "--warehouse", str(empty), "--timeout", "0.5", LONG_SUM])
    assert result.exit_code == 2 and "time limit of 0.5 s" in _output(result), result.output
    monkeypatch.setenv("COMPARE_QUERY_MEMORY_LIMIT", "64MB")
    result = runner.invoke(app, ["query", "--warehouse", str(empty), HUGE_LIST])
    assert result.exit_code == 2, result.output
    assert "memory limit of 64MB" in _output(result) and "COMPARE_QUERY_MEMORY_LIMIT" in _output(result)
    monkeypatch.setenv("COMPARE_QUERY_ROWS", "2")
    result = runner.invoke(
        app, ["query", "--warehouse", str(empty), "--format", "csv", "SELECT * FROM range(5)"]
    )
    assert result.stdout.splitlines() == ["range", "0", "1"] and "raise --limit" in result.stderr


def test_the_sandbox_holds_with_the_limits(empty, tmp_path):
    with pytest.raises(SettingsError, match="outside the warehouse"):
        export.query(empty, f"SELECT * FROM read_csv('{tmp_path}/x.csv')")
    with warehouse.sandboxed(empty, export.QueryLimits(memory="64MB").config()) as con:
        for statement in ("SET memory_limit = '10GB'", "SET enable_external_access = true"):
            with pytest.raises(duckdb.Error, match="locked"):
                con.execute(statement)
        settings = "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        assert con.execute(settings).fetchone() == ("61.0 MiB", "")


# --- compare review import --------------------------------------------------------------------------


def test_a_workbook_over_the_size_limit_is_refused_before_it_is_opened(copies, monkeypatch):
    path, book = copies

    def never(*args, **kwargs):
        raise AssertionError("the workbook was opened")

    monkeypatch.setattr(workbooks, "load_workbook", never)
    size = book.stat().st_size
    with pytest.raises(LimitError) as caught:
        import_workbook(book, path, reviewer="Wang", max_bytes=size - 1)
    message = str(caught.value)
    assert str(book) in message and f"{size:,} bytes" in message and f"{size - 1:,} bytes" in message
    assert caught.value.setting == "COMPARE_REVIEW_MAX_BYTES"


def test_a_workbook_with_too_many_rows_is_refused_before_a_row_is_read(copies):
    path, book = copies
    with pytest.raises(LimitError) as caught:
        import_workbook(book, path, reviewer="Wang", max_rows=100)
    assert re.search(r"declares 13\d rows, over the review workbook limit of 100 rows", str(caught.value))
    assert str(book) in str(caught.value) and caught.value.setting == "COMPARE_REVIEW_MAX_ROWS"


def _without_dimensions(book: Path, out: Path) -> Path:
    """A copy of the workbook whose sheets declare no size: only reading the rows counts them."""
    with zipfile.ZipFile(book) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = re.sub(rb"<dimension [^>]*/>", b"", data)
            target.writestr(item, data)
    return out


def test_rows_are_counted_as_they_are_read_whatever_the_sheets_declare(copies, tmp_path):
    _, book = copies
    bare = _without_dimensions(book, tmp_path / "bare.xlsx")
    assert all(ws.max_row is None for ws in load_workbook(bare, read_only=True).worksheets)
    with pytest.raises(LimitError, match="has more than 100 rows"):
        read_workbook(bare, max_rows=100)
    assert read_workbook(bare, max_rows=1000).export == read_workbook(book).export


def test_the_import_command_names_the_file_and_the_limit(copies, monkeypatch):
    path, book = copies
    monkeypatch.setenv("COMPARE_REVIEW_MAX_BYTES", "1000")
    result = runner.invoke(app, ["review", "import", str(book), "--warehouse", str(path), "--reviewer", "W"])
    assert result.exit_code == 2, result.output
    text = _output(result)
    assert book.name in text and "1,000 bytes" in text and "COMPARE_REVIEW_MAX_BYTES" in text


def _repeat_row(book: Path, sheet: str, row: int, times: int, notes: list[str]) -> None:
    """Append ``times`` copies of a filled row under the sheet's rows, with the given notes in turn."""
    workbook = load_workbook(book)
    ws = workbook[sheet]
    values = [c.value for c in ws[row]]
    note = workbooks.COLUMN_KEYS.index("note")
    for i in range(times):
        copy = list(values)
        copy[note] = notes[i % len(notes)]
        ws.append(copy)
    workbook.save(book)


def _reviews(path: Path) -> list[tuple]:
    with warehouse.read_only(path) as con:
        return con.execute("SELECT cell_key, verdict, reviewer, note FROM reviews ORDER BY ALL").fetchall()


@pytest.mark.slow
def test_a_review_repeated_in_a_workbook_is_stored_once_and_reimporting_adds_nothing(copies):
    path, book = copies
    sheet = load_workbook(book).sheetnames[2]  # after the README and _lists sheets
    first = sheet_rows(book, sheet)[0]
    fill(book, {(sheet, first["_row"]): {"verdict": "covered", "note": "clear"}})
    _repeat_row(book, sheet, first["_row"], 40, ["clear", "", "see page 3"])

    result = import_workbook(book, path, reviewer="Wang")
    assert (result.stored, result.already, result.repeated) == (1, 0, 40)
    assert _reviews(path) == [(first["cell_key"], "covered", "Wang", f"clear{NOTE_SEPARATOR}see page 3")]
    again = import_workbook(book, path, reviewer="Wang")
    assert (again.stored, again.already) == (0, 1)
    assert len(_reviews(path)) == 1
    # a repeat with another verdict is not a repeat: the workbook conflicts, and imports nothing
    last = sheet_rows(book, sheet)[-1]
    fill(book, {(sheet, last["_row"]): {"verdict": "absent"}})
    with pytest.raises(ReviewError, match="conflicting verdicts"):
        import_workbook(book, path, reviewer="Li")
    assert len(_reviews(path)) == 1


@pytest.mark.slow
def test_a_workbook_imported_before_repeats_were_merged_is_not_stored_again(copies):
    """Reviews stored one per row (as imports did before) match a re-import by what they say."""
    path, book = copies
    sheet = load_workbook(book).sheetnames[2]
    first = sheet_rows(book, sheet)[0]
    fill(book, {(sheet, first["_row"]): {"verdict": "partial"}})
    import_workbook(book, path, reviewer="Wang")
    with warehouse.snapshot(path) as con:  # the review as an older import stored it: another id
        con.execute(
            "INSERT INTO reviews SELECT * REPLACE ('stored-by-an-older-import' AS review_id) FROM reviews"
        )
        con.execute("DELETE FROM reviews WHERE review_id <> 'stored-by-an-older-import'")
    assert import_workbook(book, path, reviewer="Wang").stored == 0
    assert len(_reviews(path)) == 1


# --- a warehouse held open read-write by another process --------------------------------------------


def test_reading_a_locked_warehouse_names_the_holder(held):
    path, _, holder = held
    for open_it in (warehouse.read_only, warehouse.sandboxed):
        with pytest.raises(WarehouseLockedError) as caught:
            open_it(path)
        assert caught.value.pid == holder.pid
        assert str(caught.value) == (
            f"the warehouse {path} is locked by another process (pid {holder.pid}): close read-write "
            "connections to it, or open them read_only=True"
        )


@pytest.mark.slow
def test_publishing_waits_for_a_read_write_connection_then_names_it(held):
    path, _, holder = held
    before = path.read_bytes()
    started = time.monotonic()
    locked = pytest.raises(WarehouseLockedError, match=rf"pid {holder.pid}\) \(waited 1 s\)")
    with locked, warehouse.snapshot(path, wait=1.0) as con:
        con.execute("DELETE FROM documents")
    assert time.monotonic() - started >= 1.0
    assert path.read_bytes() == before
    assert list(path.parent.glob(f"{path.name}{warehouse.TMP_MARKER}*")) == []


@pytest.mark.slow
def test_publishing_goes_ahead_once_the_read_write_connection_closes(held):
    path, _, holder = held
    threading.Timer(1.0, holder.release).start()
    started = time.monotonic()
    with warehouse.snapshot(path, wait=30.0) as con:
        con.execute("DELETE FROM reviews")
    assert time.monotonic() - started >= 1.0  # it waited for the holder instead of copying under it
    with warehouse.read_only(path) as con:
        assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == 2


@pytest.mark.parametrize(
    "command",
    [
        ["query", "SELECT 1"],
        ["status"],
        ["export", "--out", "{tmp}/export"],
        ["review", "import", "{book}", "--reviewer", "Wang"],
        ["run", "--corpus", "{tmp}", "--models", "hashing"],  # refused before a server starts
    ],
    ids=lambda c: c[0] if c[0] != "review" else "review import",
)
def test_commands_on_a_locked_warehouse_say_so(held, tmp_path, command):
    path, book, holder = held
    args = [a.format(tmp=tmp_path, book=book) for a in command]
    result = runner.invoke(app, [*args, "--warehouse", str(path)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    text = _output(result)
    assert f"the warehouse {path} is locked by another process (pid {holder.pid})" in text
    assert "read_only=True" in text


# --- paths that are not what a command needs --------------------------------------------------------


def test_export_to_a_file_says_it_needs_a_folder(scored, tmp_path):
    path, _ = scored
    target = tmp_path / "exports"
    target.write_text("not a folder")
    result = runner.invoke(app, ["export", "--warehouse", str(path), "--out", str(target)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert f"--out {target} is a file, not a folder" in _output(result)
    below = runner.invoke(app, ["export", "--warehouse", str(path), "--out", str(target / "sub")])
    assert below.exit_code == 2 and f"{target} is a file, not a folder" in _output(below), below.output


@pytest.mark.parametrize(
    "command",
    [["query", "SELECT 1"], ["status"], ["export", "--out", "{tmp}/export"], ["report", "--out", "{tmp}/r"]],
    ids=lambda c: c[0],
)
@pytest.mark.parametrize("kind", ["missing", "folder", "not duckdb"])
def test_a_warehouse_path_that_is_no_warehouse_is_named(tmp_path, command, kind):
    path = tmp_path / "w.duckdb"
    if kind == "folder":
        path.mkdir()
    elif kind == "not duckdb":
        path.write_text("a spreadsheet, maybe")
    args = [a.format(tmp=tmp_path) for a in command]
    result = runner.invoke(app, [*args, "--warehouse", str(path)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    expected = {
        "missing": f"{path}: no warehouse yet; run `compare run` first, or give another --warehouse",
        "folder": f"{path} is a folder, not a warehouse file",
        "not duckdb": f"{path} is not a DuckDB database",
    }[kind]
    assert expected in _output(result)
    assert not (tmp_path / "r").exists()  # a report that cannot be written leaves no folder


def test_review_paths_that_cannot_be_used_are_named(scored, tmp_path):
    path, _ = scored
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    result = runner.invoke(
        app, ["review", "export", "--warehouse", str(path), "--out", str(blocker / "r.xlsx")]
    )
    assert result.exit_code == 2 and f"{blocker} is a file, not a folder" in _output(result), result.output
    result = runner.invoke(app, ["review", "import", str(tmp_path), "--warehouse", str(path)])
    assert result.exit_code == 2 and f"{tmp_path}: a folder, not a workbook" in _output(result), result.output


def test_a_snapshot_of_a_folder_is_refused_by_name(tmp_path):
    folder = tmp_path / "w.duckdb"
    folder.mkdir()
    with pytest.raises(WarehouseError, match="is a folder, not a warehouse file"), warehouse.snapshot(folder):
        pass


# --- a corpus folder that cannot be read ------------------------------------------------------------

#: Lists the corpus in argv[1] and prints the error that stops it.
LIST_CORPUS = (
    "import sys\n"
    "from pathlib import Path\n"
    "from compare.errors import CompareError\n"
    "from compare.ingest.parse import corpus_files\n"
    "try:\n"
    "    print(len(corpus_files(Path(sys.argv[1]))))\n"
    "except CompareError as exc:\n"
    "    print(f'{type(exc).__name__}: {exc}')\n"
)
#: root reads any folder; without these capabilities it honours permissions as any user does.
CAPSH = shutil.which("capsh")


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() == 0 and CAPSH is None, reason="root without capsh reads every folder")
@pytest.mark.parametrize("locked", ["corpus", "corpus/province"])
def test_a_corpus_folder_that_cannot_be_read_is_named(tmp_path, locked):
    (tmp_path / "corpus" / "province").mkdir(parents=True)
    (tmp_path / "corpus" / "province" / "plan.pdf").write_bytes(b"%PDF-1.4")
    folder = tmp_path / locked
    folder.chmod(0)
    command = [sys.executable, "-c", LIST_CORPUS, str(tmp_path / "corpus")]
    if os.geteuid() == 0:
        command = [CAPSH, "--drop=cap_dac_override,cap_dac_read_search", "--", "-c", shlex.join(command)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)}
        )
    finally:
        folder.chmod(0o755)
    assert done.stdout.strip() == (
        f"CorpusError: {folder}: a folder of the corpus cannot be read (Permission denied); give the user "
        "running compare read access to it, or move it out of the corpus (skipped, its documents would "
        "count as withdrawn)"
    ), done.stdout + done.stderr
