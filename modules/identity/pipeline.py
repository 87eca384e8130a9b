"""Row preparation in a worker process, one chunk ahead of the writer.

Bulk enrolment is single-threaded Python at heart: on two cores one of them sat
idle. Everything a row needs that does not depend on the registry (validation,
name keys, canonical JSON and hash, fresh ID candidates: `rows.prepare_chunk`)
now runs in a worker process while this process deduplicates and writes the
chunk before it. Output is the same, in the same order, as preparing in-process
(`workers=0`, also the choice on a single core).

Workers are spawned, not forked: a fork would copy the parent's database
connections and threads. A worker that dies raises `BrokenProcessPool` here, in
the writer, before the chunk it was preparing is written; chunks already written
are committed with their checkpoint, so a re-run resumes after them.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context

from .rows import PreparedChunk, RowChunk, RowSpec, prepare_chunk


def default_workers() -> int:
    """One worker beside the writer when there is a second core; none (prepare in-process) otherwise."""
    return 1 if (os.cpu_count() or 1) > 1 else 0


def prepared_chunks(chunks: Iterable[RowChunk], spec: RowSpec, *, workers: int) -> Iterator[PreparedChunk]:
    """`prepare_chunk` of each chunk, in order; with workers, up to `workers + 1` chunks are prepared ahead."""
    if workers <= 0:
        for chunk in chunks:
            yield prepare_chunk(chunk, spec)
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    pending: deque[Future[PreparedChunk]] = deque()
    try:
        for chunk in chunks:
            pending.append(pool.submit(prepare_chunk, chunk, spec))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        # The writer may stop early (an error, a closed generator): drop what it will not take.
        pool.shutdown(wait=True, cancel_futures=True)
