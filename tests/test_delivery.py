"""What is sent, and what it costs (issue 14): compression, and files that need no database."""

from __future__ import annotations

import gzip

from tests.factories import login, make_member, make_tree
from tests.helpers import count_queries


def test_a_static_file_runs_no_query_even_for_a_logged_in_member(client):
    tree = make_tree()
    login(client, make_member(tree.grid).user)
    with count_queries() as statements:
        response = client.get("/static/css/app.css")
    response.close()
    assert response.status_code == 200 and statements == []


def test_pages_and_assets_are_compressed_for_a_client_that_accepts_it(client):
    page = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    assert "登录" in gzip.decompress(page.get_data()).decode()
    assert "Accept-Encoding" in page.headers["Vary"] and "HX-Request" in page.headers["Vary"]
    brotli = client.get("/login", headers={"Accept-Encoding": "br, gzip"})
    assert brotli.headers["Content-Encoding"] == "br" and len(brotli.get_data()) < len(page.get_data())


def test_a_client_that_accepts_no_compression_gets_plain_text(client):
    page = client.get("/login")
    assert "Content-Encoding" not in page.headers and "登录" in page.get_data(as_text=True)
