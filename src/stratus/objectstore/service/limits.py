"""Swift's constraints, with Swift's defaults (``/info`` shows them)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_FILE_SIZE = 5 * 1024**3


@dataclass(frozen=True)
class Limits:
    max_file_size: int = MAX_FILE_SIZE
    max_meta_name_length: int = 128
    max_meta_value_length: int = 256
    max_meta_count: int = 90
    max_meta_overall_size: int = 4096
    max_header_size: int = 8192
    max_object_name_length: int = 1024
    max_container_name_length: int = 256
    max_account_name_length: int = 256
    container_listing_limit: int = 10000
    account_listing_limit: int = 10000
    extra_header_count: int = 0
