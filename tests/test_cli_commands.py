"""The everyday commands (version, startproject, runspider, fetch, parse, check), their
--help, and commands run outside a project: each run as a user runs it, a subprocess."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from conftest import Project, Site
from test_cli import ok, one_line_error, run_in

HELP = (
    "crawl",
    "worker",
    "list",
    "genspider",
    "check",
    "parse",
    "query",
    "db",
    "db upgrade",
    "db current",
    "jobs",
    "jobs list",
    "jobs run",
    "jobs serve",
    "startproject",
    "runspider",
    "fetch",
    "shell",
    "version",
)

BOOKS = '''
from harvester import Spider


class Books(Spider):
    name = "books"
    start_urls = ["{url}/"]
    shelf = "all"

    def parse(self, response):
        """The shelf: a request per book.

        @url {url}/
        @returns requests 2 2
        @returns items 0 0
        """
        for href in response.css("a.book::attr(href)").getall():
            yield response.follow(href, callback=self.parse_book)

    def parse_book(self, response, note="none"):
        """One book.

        @url {url}/book/1
        @cb_kwargs {{"note": "from check"}}
        @returns items 1 1
        @scrapes title price note
        """
        yield {{"title": response.css("h1::text").get(), "price": response.css(".price::text").get(),
               "shelf": self.shelf, "note": note}}
'''


def serve_books(site: Site) -> None:
    site.page("/", '<a class="book" href="/book/1">1</a> <a class="book" href="/book/2">2</a>')
    site.page("/book/1", '<h1>Dune</h1><p class="price">12.50</p>')
    site.page("/book/2", '<h1>Emma</h1><p class="price">8.00</p>')


# --- version and help ---------------------------------------------------------------------------


def test_version_flag_and_command_print_the_installed_version(tmp_path: Path) -> None:
    from importlib import metadata

    flag = ok(run_in(tmp_path, "--version")).strip()
    assert flag == f"harvester {metadata.version('harvester-crawler')}"  # the distribution's name
    assert ok(run_in(tmp_path, "version")).strip() == flag
    verbose = ok(run_in(tmp_path, "version", "-v"))
    assert re.search(r"^python\s+3\.\d+", verbose, re.MULTILINE)


def test_every_command_help_has_a_description_and_examples(project: Project) -> None:
    for command in HELP:
        out = ok(project.run(*command.split(), "--help"))
        usage, _, rest = out.partition("\n\n")
        description = rest.split("\n\n")[0]
        assert description and not description.startswith(("positional", "options")), (command, out)
        examples = out.split("examples:\n", 1)[1]
        assert f"harvester {command.split()[0]}" in examples, (command, out)


def test_top_level_help_lists_the_new_commands(tmp_path: Path) -> None:
    out = ok(run_in(tmp_path, "--help"))
    for command in ("startproject", "runspider", "fetch", "shell", "parse", "check", "version"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.MULTILINE), command


# --- outside a project --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("list",),
        ("crawl", "books"),
        ("check",),
        ("parse", "http://127.0.0.1:9/", "--spider", "x"),
        ("jobs", "list"),
        ("query",),
        ("db", "current"),
        ("fetch", "--spider", "x", "http://127.0.0.1:9/"),
    ],
)
def test_a_project_command_outside_a_project_says_so_in_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run_in(tmp_path, *args)
    line = one_line_error(result)
    assert result.returncode == 2
    assert "no harvester.toml" in line and str(tmp_path) in line
    assert "ModuleNotFoundError" not in line
    assert list(tmp_path.iterdir()) == []  # nothing written, no database


def test_a_project_is_found_from_a_folder_below_it(project: Project, site: Site) -> None:
    serve_books(site)
    project.spider("books", BOOKS.format(url=site.url))
    below = project.root / "notes" / "drafts"
    below.mkdir(parents=True)
    assert ok(run_in(below, "list")).split() == ["books"]
    ok(run_in(below, "crawl", "books"))
    assert project.sql("select count(*) from items") == [(2,)]  # the project's harvest.db, not one here
    assert not (below / "harvest.db").exists()


def test_query_with_a_database_url_needs_no_project(project: Project, site: Site, tmp_path: Path) -> None:
    serve_books(site)
    project.spider("books", BOOKS.format(url=site.url))
    ok(project.run("crawl", "books"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = ok(run_in(elsewhere, "query", "--db", project.db_url, "select count(*) as n from items", "--format", "json"))
    assert json.loads(out) == [{"n": 2}]


# --- startproject -------------------------------------------------------------------------------


def test_startproject_makes_a_project_that_crawls_with_its_own_pipeline(tmp_path: Path, site: Site) -> None:
    site.page("/", "<title>  Home  </title><h1>Welcome</h1><a href='/a'>a</a> <a href='/untitled'>u</a>")
    site.page("/a", "<title>Alpha\n</title><h1> A </h1><h2>a2</h2>")
    site.page("/untitled", "<h1>no title here</h1>")
    out = ok(run_in(tmp_path, "startproject", "shop"))
    root = tmp_path / "shop"
    assert "shop" in out
    for name in (
        "harvester.toml",
        "README.md",
        "spiders/__init__.py",
        "spiders/example.py",
        "shop/__init__.py",
        "shop/pipelines.py",
    ):
        assert (root / name).is_file(), name
    assert "shop.pipelines.StripWhitespace" in (root / "harvester.toml").read_text()
    assert ok(run_in(root, "list")).split() == ["example"]
    ok(run_in(root, "crawl", "example", "-a", f"url={site.url}/"))
    project = Project(root)
    items = sorted((json.loads(data) for (data,) in project.sql("select data from items")), key=lambda i: i["url"])
    assert items == [  # the spaces stripped and the untitled page dropped by the project's own pipeline
        {"headings": ["Welcome"], "title": "Home", "url": f"{site.url}/"},
        {"headings": ["A", "a2"], "title": "Alpha", "url": f"{site.url}/a"},
    ]


def test_startproject_into_a_named_folder_and_never_over_a_project(tmp_path: Path) -> None:
    ok(run_in(tmp_path, "startproject", "books", "crawlers/books"))
    assert (tmp_path / "crawlers/books/books/pipelines.py").is_file()
    toml = tmp_path / "crawlers/books/harvester.toml"
    toml.write_text(toml.read_text() + "\n# mine\n")
    line = one_line_error(run_in(tmp_path, "startproject", "books", "crawlers/books"))
    assert "exists" in line
    assert toml.read_text().endswith("# mine\n")


def test_a_new_project_points_at_nothing_off_this_machine_and_its_check_passes_on_the_tutorial_site(
    tmp_path: Path,
) -> None:
    import threading

    from harvester import tutorial_site

    ok(run_in(tmp_path, "startproject", "shop"))
    root = tmp_path / "shop"
    hosts = {
        host
        for path in root.rglob("*")
        if path.is_file()
        for host in re.findall(r"[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?([^/:\s\"'`)]+)", path.read_text())
    }
    assert hosts == {"127.0.0.1", "example.invalid"}  # the user agent's contact placeholder never resolves
    server = tutorial_site.serve(0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spider = root / "spiders" / "example.py"  # the tutorial site's port, 8765, may be taken here
        spider.write_text(spider.read_text().replace(":8765/", f":{server.server_address[1]}/"))
        checked = run_in(root, "check")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        ok(run_in(root, "crawl", "example"))
    finally:
        server.shutdown()
        server.server_close()
    titles = Project(root).sql("select count(*), count(distinct json_extract(data, '$.url')) from items")
    assert titles[0][0] == titles[0][1] > 3  # the site's pages, each once


@pytest.mark.parametrize("name", ["my-shop", "class", "json", "pipelines"])
def test_startproject_refuses_a_name_that_cannot_be_its_package(tmp_path: Path, name: str) -> None:
    line = one_line_error(run_in(tmp_path, "startproject", name))
    assert repr(name) in line
    assert list(tmp_path.iterdir()) == []


# --- runspider ----------------------------------------------------------------------------------


def test_runspider_runs_one_file_without_a_project(tmp_path: Path, site: Site) -> None:
    serve_books(site)
    (tmp_path / "books.py").write_text(textwrap.dedent(BOOKS.format(url=site.url)))
    assert not (tmp_path / "harvester.toml").exists()
    out = ok(run_in(tmp_path, "runspider", "books.py", "-a", "shelf=novels", "-o", "books.jsonl"))
    assert "books: run 1 finished" in out
    rows = [json.loads(line) for line in (tmp_path / "books.jsonl").read_text().splitlines()]
    assert sorted(row["title"] for row in rows) == ["Dune", "Emma"]
    assert {row["shelf"] for row in rows} == {"novels"}
    assert Project(tmp_path).sql("select count(*) from items") == [(2,)]  # harvest.db in the current folder


def test_runspider_from_another_folder_keeps_the_database_where_it_runs(tmp_path: Path, site: Site) -> None:
    serve_books(site)
    spiders = tmp_path / "mine"
    spiders.mkdir()
    source = "from shelves import DEFAULT_SHELF\n" + BOOKS.format(url=site.url).replace('"all"', "DEFAULT_SHELF")
    (spiders / "shelf.py").write_text(source)
    (spiders / "shelves.py").write_text('DEFAULT_SHELF = "mine"\n')  # a neighbour it imports
    (spiders / "pipelines.py").write_text("raise ImportError('a neighbour, not the pipelines')\n")
    work = tmp_path / "work"
    work.mkdir()
    ok(run_in(work, "runspider", str(spiders / "shelf.py")))
    assert Project(work).sql("select distinct json_extract(data, '$.shelf') from items") == [("mine",)]
    assert not (spiders / "harvest.db").exists()


def test_runspider_of_a_file_without_a_spider_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("X = 1\n")
    assert "empty.py" in one_line_error(run_in(tmp_path, "runspider", "empty.py"))
    (tmp_path / "broken.py").write_text("from harvester import Spider\nclass B(Spider):\n    name = 'b'\n  oops\n")
    assert "broken" in one_line_error(run_in(tmp_path, "runspider", "broken.py"))
    assert "nosuch.py" in one_line_error(run_in(tmp_path, "runspider", "nosuch.py"))


# --- fetch --------------------------------------------------------------------------------------


def test_fetch_prints_the_body_or_the_headers(tmp_path: Path, site: Site) -> None:
    site.page("/", "<p>caf\u00e9</p>", headers={"X-Shop": "open"})
    result = run_in(tmp_path, "fetch", f"{site.url}/")
    assert ok(result) == "<p>caf\u00e9</p>"
    headers = ok(run_in(tmp_path, "fetch", "--headers", f"{site.url}/")).splitlines()
    assert headers[0] == "200 OK"
    assert "X-Shop: open" in headers
    assert "Content-Type: text/html; charset=utf-8" in headers


def test_fetch_follows_redirects_with_cookies_and_obeys_robots(tmp_path: Path, site: Site) -> None:
    site.page("/robots.txt", "User-agent: *\nDisallow: /private\n", content_type="text/plain")
    site.routes["/login"] = lambda h: h.send_text(
        302, "", headers={"Location": "/account", "Set-Cookie": "session=s3cret; Path=/"}
    )
    site.routes["/account"] = lambda h: h.send_text(200, f"cookie={h.headers.get('Cookie')}")
    site.page("/private", "secret")
    assert ok(run_in(tmp_path, "fetch", f"{site.url}/login")) == "cookie=session=s3cret"
    line = one_line_error(run_in(tmp_path, "fetch", f"{site.url}/private"), status=1)  # no usable response: 1
    assert "robots" in line and "/private" in line
    assert site.hits["/private"] == 0


def test_fetch_sends_the_configured_credentials_to_their_origin(project: Project, site: Site) -> None:
    import base64

    token = "Basic " + base64.b64encode(b"alice:wonder").decode()
    site.routes["/area"] = lambda h: (
        h.send_text(200, "hello alice")
        if h.headers.get("Authorization") == token
        else h.send_text(401, "who?", headers={"WWW-Authenticate": 'Basic realm="area"'})
    )
    config = project.root / "harvester.toml"
    config.write_text(config.read_text() + f'\n[auth."{site.url}"]\nusername = "alice"\npassword_env = "AREA_PW"\n')
    assert ok(project.run("fetch", f"{site.url}/area", env={"AREA_PW": "wonder"})) == "hello alice"


def test_fetch_uses_the_project_settings_and_a_spiders(project: Project, site: Site) -> None:
    site.routes["/ua"] = lambda h: h.send_text(200, h.headers.get("User-Agent", ""))
    config = project.root / "harvester.toml"
    config.write_text(config.read_text().replace("[fetch]", '[fetch]\nuser_agent = "shopbot/1.0"'))
    project.spider("books", BOOKS.format(url=site.url))
    assert ok(project.run("fetch", f"{site.url}/ua")) == "shopbot/1.0"
    assert ok(project.run("fetch", "--spider", "books", f"{site.url}/ua")) == "shopbot/1.0"
    assert "nosuch" in one_line_error(project.run("fetch", "--spider", "nosuch", f"{site.url}/ua"))


# --- parse --------------------------------------------------------------------------------------


def test_parse_prints_the_requests_and_items_one_callback_yields(project: Project, site: Site) -> None:
    serve_books(site)
    project.spider("books", BOOKS.format(url=site.url))
    out = ok(project.run("parse", f"{site.url}/", "--spider", "books")).splitlines()
    assert out == [
        "# items (0)",
        "# requests (2)",
        f"GET {site.url}/book/1 parse_book",
        f"GET {site.url}/book/2 parse_book",
    ]
    out = ok(
        project.run(
            "parse",
            f"{site.url}/book/2",
            "--spider",
            "books",
            "--callback",
            "parse_book",
            "-a",
            "shelf=classics",
            "--cb-kwargs",
            '{"note": "n"}',
        )
    ).splitlines()
    assert out[0] == "# items (1)"
    assert json.loads(out[1]) == {"title": "Emma", "price": "8.00", "shelf": "classics", "note": "n"}
    assert out[2:] == ["# requests (0)"]
    assert site.hits["/book/1"] == 0  # nothing followed


def test_parse_to_a_depth_follows_each_request_once(project: Project, site: Site) -> None:
    serve_books(site)
    site.page(
        "/",
        '<a class="book" href="/book/1">1</a> <a class="book" href="/book/2">2</a>'
        '<a class="book" href="/book/1#again">1</a>',
    )
    project.spider("books", BOOKS.format(url=site.url))
    out = ok(project.run("parse", f"{site.url}/", "--spider", "books", "--depth", "3")).splitlines()
    assert out[:6] == [
        "# depth 1",
        "# items (0)",
        "# requests (3)",
        f"GET {site.url}/book/1 parse_book",
        f"GET {site.url}/book/2 parse_book",
        f"GET {site.url}/book/1#again parse_book",
    ]
    level2 = out[6 : out.index("# depth 3")]
    assert level2[:2] == ["# depth 2", "# items (2)"]
    assert sorted(json.loads(line)["title"] for line in level2[2:4]) == ["Dune", "Emma"]
    assert level2[4:] == ["# requests (0)"]
    assert out[out.index("# depth 3") :] == ["# depth 3", "# items (0)", "# requests (0)"]
    assert site.hits["/book/1"] == 1


def test_parse_with_an_unknown_callback_or_a_failing_page_says_so(project: Project, site: Site) -> None:
    serve_books(site)
    project.spider("books", BOOKS.format(url=site.url))
    line = one_line_error(project.run("parse", f"{site.url}/", "--spider", "books", "--callback", "nope"))
    assert "'nope'" in line
    assert "404" in one_line_error(project.run("parse", f"{site.url}/missing", "--spider", "books"), status=1)


def test_parse_shows_the_traceback_of_a_callback_that_raises(project: Project, site: Site) -> None:
    site.page("/", "<h1>x</h1>")
    project.spider(
        "bad",
        """
        from harvester import Spider

        class Bad(Spider):
            name = "bad"

            def parse(self, response):
                yield {"ok": 1}
                raise ValueError("price missing on " + response.url)
        """,
    )
    result = project.run("parse", f"{site.url}/", "--spider", "bad")
    assert result.returncode == 1
    assert "bad.py" in result.stderr and "ValueError: price missing on" in result.stderr.splitlines()[-1]


# --- check --------------------------------------------------------------------------------------


def test_check_runs_the_docstring_contracts_against_the_live_pages(project: Project, site: Site) -> None:
    serve_books(site)
    project.spider("books", BOOKS.format(url=site.url))
    result = project.run("check")
    lines = ok(result).splitlines()
    assert lines == [
        "ok    books.parse  @returns requests 2 2",
        "ok    books.parse  @returns items 0 0",
        "ok    books.parse_book  @returns items 1 1",
        "ok    books.parse_book  @scrapes title price note",
        "4 contracts: 4 ok, 0 failed",
    ]


def test_check_names_each_broken_contract_and_exits_non_zero(project: Project, site: Site) -> None:
    serve_books(site)
    project.spider(
        "books",
        BOOKS.format(url=site.url)
        .replace("@returns requests 2 2", "@returns requests 3")
        .replace("@scrapes title price note", "@scrapes title isbn"),
    )
    project.spider(
        "down",
        f'''
        from harvester import Spider

        class Down(Spider):
            name = "down"

            def parse(self, response):
                """@url {site.url}/gone
                @returns items 1
                """
                yield {{"x": 1}}
        ''',
    )
    result = project.run("check")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "FAIL  books.parse  @returns requests 3: returned 2 requests, expected at least 3" in lines
    assert "FAIL  books.parse_book  @scrapes title isbn: item 1 of 1 lacks isbn" in lines
    assert "ok    books.parse_book  @returns items 1 1" in lines
    assert any(line.startswith("FAIL  down.parse  @returns items 1: fetch of") and "404" in line for line in lines)
    assert lines[-1] == "5 contracts: 2 ok, 3 failed"
    only = project.run("check", "down")
    assert only.returncode == 1 and len(only.stdout.splitlines()) == 2


def test_a_spider_that_fails_to_start_fails_its_contracts_and_parse_in_one_line(project: Project, site: Site) -> None:
    serve_books(site)
    project.spider(
        "books",
        BOOKS.format(url=site.url).replace(
            '    shelf = "all"\n',
            '    shelf = "all"\n\n    def __init__(self, **kw):\n'
            "        super().__init__(**kw)\n        self.limit = int(self.shelf)\n",
        ),
    )
    result = project.run("check")
    assert result.returncode == 1
    assert (
        "FAIL  books.parse  @returns requests 2 2: spider 'books' failed to start: ValueError: invalid literal"
        in result.stdout
    )
    assert "Traceback" not in result.stderr
    assert "failed to start" in one_line_error(project.run("parse", f"{site.url}/", "--spider", "books"))
    assert ok(project.run("parse", f"{site.url}/", "--spider", "books", "-a", "shelf=3")).startswith("# items")


def test_check_list_names_the_contracts_without_fetching(project: Project, site: Site) -> None:
    project.spider("books", BOOKS.format(url=site.url))
    lines = ok(project.run("check", "--list")).splitlines()
    assert lines == [
        f"books.parse  @url {site.url}/  @returns requests 2 2  @returns items 0 0",
        f"books.parse_book  @url {site.url}/book/1  @returns items 1 1  @scrapes title price note",
    ]
    assert sum(site.hits.values()) == 0
