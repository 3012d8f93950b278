"""The layer rule, enforced: dashboard/ is plain Python with no import circle, its data layer below its views and
tools, each view its own page's; pages hold no SQL and no caching, and write outside text into Markdown only
through markdown_text."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_dashboard_never_imports_streamlit() -> None:
    offenders = [p.name for p in (ROOT / "dashboard").rglob("*.py") if "streamlit" in _imports(p)]
    assert offenders == []


def _core_modules() -> dict[str, Path]:
    """Every module of dashboard/ by dotted name (the migration revisions aside: Alembic loads those by path)."""
    found = {}
    for path in (ROOT / "dashboard").rglob("*.py"):
        if "versions" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _core_imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Which core modules each core module imports, anywhere in it (inside functions too: a deferred import is
    still a dependency). A package's __init__ is not counted as imported by its modules' imports."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dashboard"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("dashboard"))
        graph[name] = {d for d in deps if d in modules and d != name and modules[d].name != "__init__.py"}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import circle found by a depth-first walk, as the modules around it (first repeated at the end)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    return found


def test_the_circle_check_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_import_circle_among_core_modules() -> None:
    graph = _core_imports(_core_modules())
    assert len(graph) > 30
    assert _cycles(graph) == []


def test_the_engine_module_knows_only_the_settings() -> None:
    # db is the bottom of the data layer: how demo data is made, or how rollups are summed, sits above it.
    assert _core_imports(_core_modules())["dashboard.data.db"] == {"dashboard.config"}


def test_layers_point_down() -> None:
    """The data layer never reaches up into views, tools or the entry points; the rules at the top (privacy,
    disclosure, roi, access...) never need a view or a tool; and a view never imports another page's view."""
    graph = _core_imports(_core_modules())
    entry = {"dashboard.cli", "dashboard.startup", "dashboard.__main__"}
    for name, deps in graph.items():
        upward = {d for d in deps if d.startswith(("dashboard.views.", "dashboard.tools.")) or d in entry}
        if name.startswith("dashboard.data.") or (name.count(".") == 1 and name not in entry):
            assert not upward, (name, upward)
        if name.startswith("dashboard.views."):
            others = {d for d in deps if d.startswith("dashboard.views.") and d != "dashboard.views.charts"}
            assert not others, (name, others)


def test_pages_hold_no_sql_and_no_caching() -> None:
    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b\s", re.IGNORECASE)
    pages = list((ROOT / "app_pages").glob("*.py"))
    assert pages
    for page in pages:
        text = page.read_text()
        assert not {"sqlalchemy", "sqlite3", "psycopg"} & _imports(page), page.name
        assert not sql.search(text), page.name
        assert "cache_data" not in text and "cache_resource" not in text, page.name


def test_there_is_no_pages_folder_for_streamlit_to_run_behind_the_sign_in() -> None:
    # A fresh server runs pages/<name>.py directly for /<name> until app.py has declared navigation once.
    assert not (ROOT / "pages").exists()


# Streamlit calls whose text (body, label or help) is read as Markdown.
MARKDOWN_CALLS = frozenset({
    "markdown", "caption", "subheader", "header", "title", "write", "info", "warning", "error", "success", "toast",
    "expander", "popover", "status", "button", "form_submit_button", "download_button", "page_link", "checkbox",
    "toggle", "radio", "selectbox", "multiselect", "text_input", "select_slider", "slider", "file_uploader", "metric",
})  # fmt: skip
# What may be called inside an f-string handed to them: the one door for outside text (filters._shown and
# outcome_view.spread pass their values through it), and what formats numbers, times or school years.
SAFE_CALLS = frozenset({"markdown_text", "_shown", "spread", "span", "compact", "percent", "dollars", "_money",
                        "_dollars", "len", "min", "moment"})  # fmt: skip
# Names that hold no outside text, each for a reason.
TRUSTED_NAMES = {
    "year": "a school year of the data, normalised to YYYY-YY by the contract on every load",
    "previous_year": "the same",
    "span": "school years, the same",
    "since": "Schools: built from previous_year",
    "when": "Profile: built from school years",
    "note": "Outcomes: counts, and names through markdown_text",
    "hint": "Outcomes: fixed text",
    "silent": "a count",
    "load_id": "an integer id",
    "metric": "checked against contract.METRICS",
    "label": "LABELS[metric], or a filter's own fixed label",
    "preset": "a key of roi.PRESETS, chosen in a selectbox",
    "n": "kpi: a formatted count or the suppressed label",
    "estimate": "roi.PUBLISHED_ESTIMATES, written in code",
    "why": "Data page: templates.undo_needs_typed_id's fixed text around load ids and row counts",
    "count": "Outcomes: a count of places",
    "order": "Outcomes: fixed text around counts",
    "whose": "Schools: 'your schools' or 'schools'",
    "noun": "Outcomes' drill: LEVEL_NOUN's fixed words",
    "article": "the same: 'a' or 'an'",
    "verb": "the same: fixed words",
    "table": "Data page: a contract table's name, checked against contract.TABLES by the loader",
    "shown": "Data page: fixed text around a count",
}


def _name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def _root(node: ast.expr) -> ast.expr:
    """What an expression reads from: LABELS[metric].lower() -> LABELS, estimate["source"] -> estimate."""
    while True:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args:
            node = node.func.value  # .lower(), .capitalize()
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            return node


def _safe(value: ast.expr) -> bool:
    """Whether an f-string field holds no outside text, or holds it only through markdown_text."""
    if isinstance(value, ast.Call) and _name(value.func) in SAFE_CALLS:
        return True
    if isinstance(value, ast.Call) and _name(value.func) == "join" and isinstance(value.func.value, ast.Constant):
        return all(_safe(arg) for arg in value.args)  # ", ".join(contract.TABLES)
    node = _root(value)
    if isinstance(node, ast.Constant) or _name(node).isupper():  # code constants: LABELS, MAX_SCHOOLS, TABLES
        return True
    return isinstance(node, ast.Name) and node.id in TRUSTED_NAMES


def _unescaped_fields(source: str) -> list[str]:
    """'line: field' for each f-string field of outside text handed to a Markdown-reading Streamlit call."""
    found = []
    for call in ast.walk(ast.parse(source)):
        if not (isinstance(call, ast.Call) and _name(call.func) in MARKDOWN_CALLS):
            continue
        texts = call.args[:1] + [k.value for k in call.keywords if k.arg in ("body", "label", "help")]
        stack = list(texts)
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Call) and _name(node.func) == "markdown_text":
                continue  # everything under the door is escaped as a whole
            if isinstance(node, ast.FormattedValue) and node.format_spec is None and not _safe(node.value):
                found.append(f"{node.lineno}: {ast.unparse(node.value)}")
            stack.extend(ast.iter_child_nodes(node))
    return sorted(found)


def test_the_field_check_tells_escaped_from_unescaped_text() -> None:
    assert _unescaped_fields('st.caption(f"No school of {name} in {year}.")') == ["1: name"]
    assert _unescaped_fields('st.info("x" + (f" for {\' or \'.join(missing)}" if missing else ""))') == [
        "1: ' or '.join(missing)"
    ]
    assert _unescaped_fields('st.expander(f"{label_of[path]}: rows", help=f"{row.year}")') == [
        "1: label_of[path]",
        "1: row.year",
    ]
    escaped = 'st.caption(f"No school of {formatting.markdown_text(name)}, {LABELS[m].lower()}, {n:,} in {year}.")'
    assert _unescaped_fields(escaped) == []
    assert _unescaped_fields('st.subheader(formatting.markdown_text(f"{name} · {city}"))') == []


def test_pages_and_components_write_outside_text_into_markdown_only_through_markdown_text() -> None:
    scripts = sorted((ROOT / "app_pages").glob("*.py")) + sorted((ROOT / "components").glob("*.py"))
    offenders = {p.name: found for p in scripts if (found := _unescaped_fields(p.read_text()))}
    assert offenders == {}
