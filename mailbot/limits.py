"""The `[limits]` of the configuration, as the parser and the annex reader take them."""

from __future__ import annotations

from mailbot.annex.reader import AnnexLimits
from mailbot.config import Config
from mailbot.mail.parse import ParseLimits


def parse_limits(config: Config | None) -> ParseLimits:
    if config is None:
        return ParseLimits()
    lim = config.limits
    return ParseLimits(
        max_header_chars=lim.max_header_chars,
        max_body_chars=lim.max_body_chars,
        max_attachment_bytes=lim.max_attachment_bytes,
    )


def annex_limits(config: Config | None) -> AnnexLimits:
    if config is None:
        return AnnexLimits()
    lim = config.limits
    return AnnexLimits(
        max_rows=lim.annex_max_rows,
        max_cell_chars=lim.annex_max_cell_chars,
        max_file_bytes=lim.max_attachment_bytes,
        max_zip_entries=lim.annex_max_zip_entries,
        max_uncompressed_bytes=lim.annex_max_uncompressed_bytes,
        timeout_seconds=lim.annex_parse_timeout_seconds,
        memory_mb=lim.annex_parse_memory_mb,
        allow_test_domains=lim.annex_allow_test_domains,
    )
