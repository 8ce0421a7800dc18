"""A ``send --batch`` file: its ``to,amount[,token]`` rows, and the id a batch's rows are
paid once under (:class:`~walletim.app.chain.batch.BatchSender` pays them)."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Sequence

from walletim.app.chain.model import BatchRow
from walletim.errors import InputError


def paying(to: str, value: int, token: str | None) -> tuple[str, int, str]:
    """What a batch row pays, as compared: (recipient, value, token; "" for ether)."""
    return to.lower(), value, (token or "").lower()


def parse_batch_csv(
    text: str,
    *,
    parse_value: Callable[[str, str | None], int],
    resolve: Callable[[str], str],
    default_token: str | None = None,
) -> list[BatchRow]:
    """Parse ``to,amount[,token]`` lines (an optional header line is skipped).

    ``parse_value(amount_text, token)`` turns an amount into base units; ``resolve`` turns a
    name or address into a checksummed address; ``default_token`` is the token of a row
    whose token cell is missing or empty (None: ether).

    Raises:
        InputError: naming the line of the first malformed row.
    """
    rows: list[BatchRow] = []
    reader = csv.reader(io.StringIO(text, newline=""))  # "" as csv wants: \r, \r\n, \n
    records = enumerate(reader, start=1)
    while True:
        try:
            line_no, fields = next(records)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a NUL byte, a field over the csv module's limit
            raise InputError(f"batch line {reader.line_num}: not CSV ({exc})") from exc
        row = _row(line_no, [c.strip() for c in fields], (parse_value, resolve), default_token)
        if row is not None:
            rows.append(row)
    if not rows:
        raise InputError("the batch file has no rows")
    return rows


def _row(
    line_no: int,
    cells: list[str],
    parsers: tuple[Callable[[str, str | None], int], Callable[[str], str]],
    default_token: str | None,
) -> BatchRow | None:
    parse_value, resolve = parsers
    if not cells or not any(cells) or cells[0].startswith("#"):
        return None
    if line_no == 1 and cells[0].lower() in ("to", "address", "recipient"):
        return None
    if len(cells) not in (2, 3):
        raise InputError(f"batch line {line_no}: expected to,amount[,token]")
    token = cells[2] if len(cells) == 3 and cells[2] else default_token
    try:
        to = resolve(cells[0])
        value = parse_value(cells[1], token)
    except InputError as exc:
        raise InputError(f"batch line {line_no}: {exc}") from exc
    if value <= 0:
        raise InputError(f"batch line {line_no}: the amount must be positive")
    said = "" if token is None or token.upper() == "ETH" else token
    return BatchRow(line_no, to, value, token, written=f"{cells[0]},{said}".lower())


def batch_id_for(chain_id: int, sender: str, rows: Sequence[BatchRow]) -> str:
    """A stable id for one account's batch on one chain: each row's line, recipient and
    token as written (:attr:`BatchRow.written`: a contact that now names another address
    is the same row, refused as paying something else, never paid again) and amount in
    base units. Not the file's bytes: the same rows saved again with other line ends, a
    BOM, quotes or spaces are the same batch (a rerun pays none twice); the same file
    paying another ``--token`` is not."""
    lines = "".join(
        f"{r.row},{r.written or f'{r.to},{r.token or str()}'.lower()},{r.value}\n" for r in rows
    )
    return hashlib.sha256(f"rows:{chain_id}:{sender.lower()}:{lines}".encode()).hexdigest()


def content_batch_id(chain_id: int, sender: str, content: bytes) -> str:
    """The id walletim gave a batch file before :func:`batch_id_for` (its bytes): read to
    find a batch begun then (:meth:`BatchSender.id_for`)."""
    return hashlib.sha256(f"{chain_id}:{sender}:".encode() + content).hexdigest()
