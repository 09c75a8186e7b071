"""A small HTTP/1.1 load generator for tests: keep-alive clients and slowloris clients.

Only loopback addresses are allowed; every client stops at its deadline.
"""

from __future__ import annotations

import asyncio
import time

import attrs


@attrs.define
class LoadResult:
    """What the clients saw: latencies in seconds and every error."""

    latencies: list[float] = attrs.Factory(list)
    errors: list[str] = attrs.Factory(list)
    statuses: dict[int, int] = attrs.Factory(dict)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if status in (204, 304):
        return status
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _client(host: str, port: int, paths: list[str], deadline: float, out: LoadResult) -> None:
    reader = writer = None
    index = 0
    while time.monotonic() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            path = paths[index % len(paths)]
            index += 1
            started = time.monotonic()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            await writer.drain()
            status = await asyncio.wait_for(_read_response(reader), timeout=30)
            out.latencies.append(time.monotonic() - started)
            out.statuses[status] = out.statuses.get(status, 0) + 1
            if status != 200:
                out.errors.append(f"HTTP {status} for {path}")
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as e:
            out.errors.append(f"{type(e).__name__}: {e}")
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _slowloris(host: str, port: int, deadline: float) -> None:
    """Sends a request's headers one byte a second and never finishes them."""
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return
    try:
        writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode())
        while time.monotonic() < deadline:
            writer.write(b"X")
            await writer.drain()
            await asyncio.sleep(1)
    except OSError:
        pass
    finally:
        writer.close()


def run_load(
    port: int,
    paths: list[str],
    *,
    clients: int,
    seconds: float,
    slowloris: int = 0,
    host: str = "127.0.0.1",
) -> LoadResult:
    """Run ``clients`` keep-alive clients (and ``slowloris`` slow ones) for ``seconds``."""
    assert host.startswith("127."), "load tests only ever target loopback"
    out = LoadResult()

    async def main() -> None:
        deadline = time.monotonic() + seconds
        slow = [asyncio.create_task(_slowloris(host, port, deadline)) for _ in range(slowloris)]
        await asyncio.sleep(0.5 if slowloris else 0)
        await asyncio.gather(*(_client(host, port, paths, deadline, out) for _ in range(clients)))
        await asyncio.gather(*slow)

    asyncio.run(main())
    return out
