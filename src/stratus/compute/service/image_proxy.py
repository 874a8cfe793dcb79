"""Nova's image proxy (``/images`` below microversion 2.36): the image
service's records, read and deleted as the calling user, over its API."""

from __future__ import annotations

from typing import Any

import httpx

from stratus.common.context import RequestContext
from stratus.compute.errors import BadRequest, Conflict, Forbidden, NotFound
from stratus.compute.service.images import ImageClient, ImageServiceUnavailable

# The query parameters passed on to the image service, under its names.
LIST_PARAMS = {"name": "name", "status": "status", "limit": "limit", "marker": "marker"}


class ImageProxy:
    def __init__(self, images: ImageClient):
        self.images = images

    async def _call(
        self, ctx: RequestContext, method: str, path: str, params: dict[str, str] | None = None
    ) -> httpx.Response:
        try:
            return await self.images.client.request(
                method,
                f"{self.images.base}/v2/images{path}",
                params=params,
                headers=await self.images.headers(ctx),
            )
        except httpx.HTTPError as exc:
            raise ImageServiceUnavailable(
                f"The image service is unavailable ({type(exc).__name__}); try again later."
            ) from exc

    @staticmethod
    def _check(resp: httpx.Response, image_id: str | None = None) -> None:
        if resp.status_code < 300:
            return
        if resp.status_code == 404:
            raise NotFound("Image not found." if image_id else "Could not find the images.")
        if resp.status_code == 403:
            raise Forbidden(f"Image {image_id} may not be changed by this user.")
        if resp.status_code == 400:
            raise BadRequest("The image service refused the request's parameters.")
        if resp.status_code == 409:
            raise Conflict(f"Image {image_id} is in use.")
        raise ImageServiceUnavailable(
            f"The image service answered {resp.status_code}; try again later."
        )

    async def get(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        resp = await self._call(ctx, "GET", f"/{image_id}")
        self._check(resp, image_id)
        record: dict[str, Any] = resp.json()
        return record

    async def list(self, ctx: RequestContext, query: dict[str, str]) -> list[dict[str, Any]]:
        params = {LIST_PARAMS[k]: v for k, v in query.items() if k in LIST_PARAMS}
        if "status" in params:  # Nova's names are the upper-case ones
            params["status"] = params["status"].lower()
        resp = await self._call(ctx, "GET", "", params)
        self._check(resp)
        images: list[dict[str, Any]] = resp.json().get("images", [])
        return images

    async def delete(self, ctx: RequestContext, image_id: str) -> None:
        resp = await self._call(ctx, "DELETE", f"/{image_id}")
        self._check(resp, image_id)
