"""Lines the backup commands print for failed checks."""

from __future__ import annotations

import json
from typing import Any


def print_failures(failures: list[dict[str, Any]]) -> None:
    """One ``FAIL`` line per failed expectation, its observed value cut at 300 characters."""
    for failure in failures:
        observed = json.dumps(failure["observed"], default=str)
        print(f"  FAIL {failure['expectation']:28} {observed if len(observed) < 300 else observed[:297] + '...'}")
