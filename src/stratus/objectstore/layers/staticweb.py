"""Static web sites from containers, as Swift's ``staticweb`` middleware.

It acts on GET and HEAD from anonymous callers (or any caller sending
``X-Web-Mode: true``) of containers whose metadata asks for it:

- ``X-Container-Meta-Web-Index: index.html``: a container or pseudo-folder
  path ending in ``/`` answers its ``index.html``; without the slash, 301 to
  the path with it.
- ``X-Container-Meta-Web-Listings: true``: a folder without an index answers
  an HTML listing (``...-Web-Listings-CSS`` names a style sheet, relative to
  the container unless it starts with ``/`` or ``http``;
  ``...-Web-Listings-Label`` replaces the path in its title).
- ``X-Container-Meta-Web-Error: error.html``: a 404 (or a 401 at the
  container) answers the container's ``404error.html`` (``401error.html``)
  with the error's status.
- An object of ``X-Container-Meta-Web-Directory-Type`` (default
  ``application/directory``) of at most one byte is a folder marker: 404.

It sits above the access layer, so that every request it makes for the
caller (the index, the listing, the error page) is checked as the caller's
own, as Swift's subrequests are; a container page needs the container's
listing right (``.rlistings`` for anonymous readers), as in Swift.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

from stratus.objectstore.errors import NotFound, SwiftError, for_status
from stratus.objectstore.layers.base import Layer
from stratus.objectstore.service.headers import true
from stratus.objectstore.service.interface import (
    PAGE,
    Caller,
    Headers,
    Listing,
    Names,
    Reply,
)
from stratus.objectstore.service.quorum import close_body

META = "x-container-meta-web-"
NONE: dict[str, str] = {}
HTML = "text/html; charset=UTF-8"
DEFAULT_STYLE = (
    '  <style type="text/css">\n'
    "   h1 {font-size: 1em; font-weight: bold;}\n"
    "   th {text-align: left; padding: 0px 1em 0px 1em;}\n"
    "   td {padding: 0px 1em 0px 1em;}\n"
    "   a {text-decoration: none;}\n"
    "  </style>\n"
)


@dataclass(frozen=True)
class Site:
    """A container's ``X-Container-Meta-Web-*`` settings."""

    index: str = ""
    error: str = ""
    listings: str = ""
    css: str = ""
    label: str = ""
    dir_type: str = ""

    @classmethod
    def of(cls, headers: Headers) -> Site:
        def get(name: str) -> str:
            return headers.get(META + name, "").strip()

        return cls(
            get("index"),
            get("error"),
            get("listings"),
            get("listings-css"),
            get("listings-label"),
            get("directory-type") or "application/directory",
        )


def human_readable(size: int) -> str:
    """Swift's sizes in listings: 999, 1Ki, 3Mi (rounded at each step)."""
    value = float(size)
    suffixes = "KMGTPEZY"
    index = -1
    while value >= 1024 and index + 1 < len(suffixes):
        index += 1
        value = round(value / 1024)
    return f"{int(value)}" if index < 0 else f"{round(value)}{suffixes[index]}i"


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _page(status: int, body: str, head: bool, extra: dict[str, str] | None = None) -> Reply:
    data = body.encode()
    headers = {"content-type": HTML, "content-length": str(len(data)), PAGE: "staticweb"}
    headers.update(extra or {})
    return Reply(status, headers, None if head else _once(data))


def _redirect(caller: Caller, head: bool) -> Reply:
    location = quote(caller.root + caller.path + "/")
    return _page(301, "", head, {"location": location, "content-length": "0"})


class StaticWebLayer(Layer):
    """Containers served as web sites to browsers."""

    @staticmethod
    def _web(caller: Caller, headers: Headers = NONE) -> bool:
        return caller.token is None or caller.web_mode or true(headers.get("x-web-mode"))

    async def _site(self, account: str, container: str) -> Site:
        info = await self.app.info(account, container)
        return Site.of(info.headers) if info.status < 300 else Site()

    # -- containers ----------------------------------------------------------------

    async def head_container(self, caller: Caller, account: str, container: str) -> Reply:
        if not self._web(caller):
            return await self.app.head_container(caller, account, container)
        page = await self._container_page(caller, account, container, head=True)
        return page or await self.app.head_container(caller, account, container)

    async def list_container(
        self, caller: Caller, account: str, container: str, query: Headers
    ) -> Listing:
        if not self._web(caller):
            return await self.app.list_container(caller, account, container, query)
        page = await self._container_page(caller, account, container, head=False)
        if page is None:
            return await self.app.list_container(caller, account, container, query)
        return Listing(page.status, page.headers, page=page)

    async def _container_page(
        self, caller: Caller, account: str, container: str, *, head: bool
    ) -> Reply | None:
        """The container's web page, or None for its ordinary answer."""
        site = await self._site(account, container)
        if not (site.listings or site.index or site.error or caller.web_mode):
            return None  # nothing to do here: the ordinary answer, checked as usual
        try:
            # Swift's staticweb authorizes the container request first.
            await self.app.head_container(caller, account, container)
        except SwiftError as exc:
            return await self._error(caller, (account, container), site, exc, head)
        if not site.listings and not site.index:
            if caller.web_mode:
                raise NotFound()
            return None
        if not caller.path.endswith("/"):
            return _redirect(caller, head)
        if site.index:
            found = await self._index(caller, (account, container, site.index), head)
            if found is not None:
                found.headers[PAGE] = "staticweb"  # an object, where a container was asked
                return found
        return await self._listing(caller, (account, container), site, "", head)

    # -- objects -------------------------------------------------------------------

    async def get_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, *, head: bool
    ) -> Reply:
        resp = await self.app.get_object(caller, names, headers, params, head=head)
        if not self._web(caller, headers):
            return resp
        site = await self._site(names[0], names[1])
        if resp.status < 400:
            length = resp.headers.get("content-length", "0")
            marker = resp.headers.get("content-type") == site.dir_type and (
                not length.isdigit() or int(length) <= 1
            )
            if not marker:
                return resp
        elif resp.status != 404:
            return resp
        if not site.listings and not site.index:
            return resp
        await close_body(resp)
        account, container, obj = names
        if site.index:
            index = obj + ("" if obj.endswith("/") else "/") + site.index
            found = await self._index(caller, (account, container, index), head)
            if found is not None:
                if not caller.path.endswith("/"):
                    await close_body(found)
                    return _redirect(caller, head)
                return found
        if caller.path.endswith("/"):
            return await self._listing(caller, (account, container), site, obj, head)
        query = {"limit": "1", "delimiter": "/", "prefix": obj + "/"}
        try:
            below = await self.app.list_container(caller, account, container, query)
        except SwiftError:
            below = Listing(404, {})
        if below.status < 300 and below.entries:
            return _redirect(caller, head)
        return await self._error(caller, (account, container), site, NotFound(), head)

    async def _index(self, caller: Caller, names: Names, head: bool) -> Reply | None:
        """The index object's answer, or None when there is none."""
        try:
            resp = await self.app.get_object(caller, names, NONE, NONE, head=head)
        except SwiftError as exc:
            if exc.status == 404:
                return None
            raise
        if resp.status == 404:
            await close_body(resp)
            return None
        if resp.status >= 400:
            await close_body(resp)
            raise for_status(resp.status)
        return resp

    async def _error(
        self,
        caller: Caller,
        where: tuple[str, str],
        site: Site,
        exc: SwiftError,
        head: bool,
        body: Reply | None = None,
    ) -> Reply:
        """The container's error page for ``exc`` with its status (Swift's
        ``<status><web-error>`` object), or ``body``, or the error itself."""
        if site.error:
            name = f"{exc.status}{site.error}"
            try:
                page = await self.app.get_object(caller, (*where, name), NONE, NONE, head=head)
            except SwiftError:
                page = Reply(404)
            if page.status < 300:
                page.status = exc.status
                page.headers[PAGE] = "staticweb"
                return page
            await close_body(page)
        if body is not None:
            return body
        raise exc

    async def _listing(
        self, caller: Caller, where: tuple[str, str], site: Site, prefix: str, head: bool
    ) -> Reply:
        """The HTML listing of a folder (404 when listings are off or it is empty)."""
        label = caller.path
        if site.label:
            label = f"{site.label}/{'/'.join(caller.path.split('/')[4:])}"
        title = html.escape(label)
        if not true(site.listings):
            page = _page(404, _disabled(title, site, prefix), head)
            return await self._error(caller, where, site, NotFound(), head, page)
        query = {"delimiter": "/", "format": "json"}
        if prefix:
            query["prefix"] = prefix
        try:
            found = await self.app.list_container(caller, *where, query)
        except SwiftError as exc:
            return await self._error(caller, where, site, exc, head)
        if found.status >= 300 or (prefix and not found.entries):
            return await self._error(caller, where, site, NotFound(), head)
        return _page(200, _listing_html(title, site, prefix, found.entries), head)


def _css(site: Site, prefix: str) -> str:
    if site.css.startswith(("/", "http://", "https://")):
        href = quote(site.css, ":/")
    else:
        href = "../" * prefix.count("/") + quote(site.css)
    return f'  <link rel="stylesheet" type="text/css" href="{href}" />\n'


def _disabled(title: str, site: Site, prefix: str) -> str:
    style = (
        _css(site, prefix)
        if site.css
        else (
            '  <style type="text/css">\n'
            "   h1 {font-size: 1em; font-weight: bold;}\n"
            "   p {font-size: 2}\n"
            "  </style>\n"
        )
    )
    body = (
        f"<!DOCTYPE html>\n<html>\n<head>\n<title>Listing of {title}</title>\n{style}"
        "</head>\n<body>  <h1>Web Listing Disabled</h1>"
        "   <p>The owner of this web site has disabled web listing."
        "   <p>If you are the owner of this web site, you can enable"
        "   web listing by setting X-Container-Meta-Web-Listings.</p>"
    )
    if site.index:
        body += (
            "<h1>Index File Not Found</h1> <p>The owner of this web site has set "
            f" <b>X-Container-Meta-Web-Index: {html.escape(site.index)}</b>. "
            " However, this file is not found.</p>"
        )
    return body + " </body>\n</html>\n"


def _listing_html(title: str, site: Site, prefix: str, entries: list[dict[str, object]]) -> str:
    rows = [
        "<!DOCTYPE html>\n<html>\n <head>\n",
        f"  <title>Listing of {title}</title>\n",
        _css(site, prefix) if site.css else DEFAULT_STYLE,
        " </head>\n <body>\n",
        f'  <h1 id="title">Listing of {title}</h1>\n',
        '  <table id="listing">\n   <tr id="heading">\n',
        '    <th class="colname">Name</th>\n    <th class="colsize">Size</th>\n',
        '    <th class="coldate">Date</th>\n   </tr>\n',
    ]
    empty = '    <td class="colsize">&nbsp;</td>\n    <td class="coldate">&nbsp;</td>\n'
    if prefix:
        rows.append(
            '   <tr id="parent" class="item">\n'
            f'    <td class="colname"><a href="../">../</a></td>\n{empty}   </tr>\n'
        )
    for item in entries:
        if "subdir" in item:
            sub = str(item["subdir"])[len(prefix) :]
            rows.append(
                '   <tr class="item subdir">\n'
                f'    <td class="colname"><a href="{quote(sub)}">{html.escape(sub)}</a></td>\n'
                f"{empty}   </tr>\n"
            )
    for item in entries:
        if "name" in item:
            name = str(item["name"])[len(prefix) :]
            kinds = " ".join(
                "type-" + html.escape(t.lower()) for t in str(item["content_type"]).split("/")
            )
            size = human_readable(int(str(item.get("bytes", 0))))
            date = html.escape(str(item["last_modified"])).split(".")[0].replace("T", " ")
            rows.append(
                f'   <tr class="item {kinds}">\n'
                f'    <td class="colname"><a href="{quote(name)}">{html.escape(name)}</a></td>\n'
                f'    <td class="colsize">{size}</td>\n'
                f'    <td class="coldate">{date}</td>\n   </tr>\n'
            )
    rows.append("  </table>\n </body>\n</html>\n")
    return "".join(rows)
