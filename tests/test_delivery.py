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


def test_pages_link_static_files_under_content_hashed_names_cached_as_immutable(client):
    import re

    page = client.get("/login").get_data(as_text=True)
    css = re.search(r'href="(/static/css/app\.[0-9a-f]{10}\.css)"', page).group(1)
    response = client.get(css, headers={"Accept-Encoding": "br"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "max-age=315360000, public, immutable"
    assert response.headers["Content-Encoding"] == "br"
    response.close()
    # The plain name still works, revalidated each time (a bookmark, the manifest's icons).
    plain = client.get("/static/css/app.css")
    assert plain.status_code == 200 and "immutable" not in plain.headers["Cache-Control"]
    plain.close()


def test_an_old_hashed_name_after_a_deploy_is_a_clean_404(client):
    response = client.get("/static/css/app.0123456789.css")
    assert response.status_code == 404


def test_the_service_worker_caches_the_hashed_shell_under_a_version_made_of_their_hashes(client, app):
    with client.get("/sw.js") as response:
        body = response.get_data(as_text=True)
    manifest = app.extensions["assets"]
    assert f'"/static/{manifest["css/app.css"]}"' in body and "__SHELL__" not in body
    assert 'const VERSION = "dy-' in body
