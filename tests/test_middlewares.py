"""Fetch middlewares a project adds without touching Harvester: its own, and the rotating proxy.

Each test is a scratch project with one module of its own, crawled by the real CLI in a
subprocess; proxies are real `proxy.py` servers on loopback ports.
"""

from __future__ import annotations


from conftest import follow_spider

ADD_HEADER = """
class AddHeader:
    \"\"\"Every request carries X-Team, and X-Steps names the middlewares it went through.\"\"\"

    def __init__(self, settings):
        self.team = "books"

    async def __call__(self, request, call_next):
        headers = {**(request.headers or {}), "X-Team": self.team, "X-Steps": "project"}
        return await call_next(request.replace(headers=headers))


async def stamp(request, call_next):
    headers = dict(request.headers or {})
    headers["X-Steps"] = headers.get("X-Steps", "") + ",spider"
    return await call_next(request.replace(headers=headers))
"""


def pages(site, count: int) -> None:
    site.page("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    links = "".join(f'<a href="/p/{n}">{n}</a>' for n in range(count))
    site.page("/", f"<html><body>{links}<a href='/old'>old</a></body></html>")
    for n in range(count):
        site.page(f"/p/{n}", f"<html><body><h1>{n}</h1></body></html>")
    site.routes["/old"] = lambda h: h.send_text(301, "", headers={"Location": "/p/0"})


def test_a_project_middleware_and_a_spiders_own_see_every_request(project, site):
    pages(site, 5)
    project.write("addheader.py", ADD_HEADER)
    project.write("harvester.toml", project.root.joinpath("harvester.toml").read_text()
                  .replace("obey_robots = false", "obey_robots = true")
                  .replace('pipelines = ["pipelines.store"]',
                           'pipelines = ["pipelines.store"]\nmiddlewares = ["addheader.AddHeader"]'))
    source = follow_spider("follow").replace('    name = "follow"',
                                             '    name = "follow"\n    middlewares = ["addheader.stamp"]')
    project.spider("follow", source)

    done = project.run("crawl", "follow", "-a", f"base={site.url}")

    assert done.returncode == 0, done.stderr
    assert project.sql("select count(*) from items") == [(6,)]  # /old is /p/0 once more
    seen = {(path, headers.get("X-Team"), headers.get("X-Steps")) for _, path, headers in site.requests}
    assert {path for path, _, _ in seen} >= {"/robots.txt", "/", "/old", "/p/0", "/p/4"}
    assert {(team, steps) for _, team, steps in seen} == {("books", "project,spider")}


def test_a_middleware_path_that_does_not_import_is_one_line_and_exit_2(project, site):
    pages(site, 1)
    project.write("harvester.toml", project.root.joinpath("harvester.toml").read_text()
                  .replace('pipelines = ["pipelines.store"]',
                           'pipelines = ["pipelines.store"]\nmiddlewares = ["nosuchmodule.AddHeader"]'))
    project.spider("follow", follow_spider("follow"))

    done = project.run("crawl", "follow", "-a", f"base={site.url}")

    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "nosuchmodule" in done.stderr and "Traceback" not in done.stderr
    assert site.requests == []
