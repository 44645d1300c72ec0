"""The runner's side of provenance: fingerprints of training and sampling runs, claimed on rank 0.

* A training folder's fingerprint: pipeline, its config (less the pipeline's ``resume_settings``, e.g.
  the step count a resumed run may raise) and seed.
* A sample output's fingerprint: pipeline, the checkpoint's digest, the pipeline's
  :meth:`~infd_core.pipeline.Pipeline.provenance_config`, seed, size and the versions of infd-core,
  the pipeline's distribution and torch (the number of samples is not part of it: sample ``i`` does not
  depend on how many are asked for).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from infd_core.distributed import current, gather_lists
from infd_core.errors import InfdError, UsageError
from infd_core.output_claims import OutputClaim, claim_output
from infd_core.provenance import checkpoint_digest, versions_fingerprint

if TYPE_CHECKING:
    from infd_core.pipeline import Pipeline


def training_fingerprint(pipeline: Pipeline) -> dict[str, Any]:
    run = pipeline.context.run
    return {"pipeline": run.pipeline, "config": pipeline.provenance_config(), "seed": run.seed}


def training_ignores(pipeline: Pipeline) -> list[str]:
    """Keys a resumed training run may change (``config.<dotted key>``)."""
    return [f"config.{key}" for key in pipeline.resume_settings]


def sample_fingerprint(pipeline: Pipeline, checkpoint: str | None) -> dict[str, Any]:
    ctx = pipeline.context
    run = ctx.run
    distribution = ctx.registry.get("pipelines", run.pipeline).distribution
    return {
        "pipeline": run.pipeline,
        "checkpoint": checkpoint_digest(checkpoint) if checkpoint is not None else None,
        "config": pipeline.provenance_config(),
        "seed": run.seed,
        "size": run.sample.size,
        "versions": versions_fingerprint(sorted({"infd-core", distribution})),
    }


def claim_on_main(
    url: str,
    fingerprint: Mapping[str, Any],
    *,
    kind: str,
    overwrite: bool,
    ignore: Iterable[str] = (),
) -> OutputClaim | None:
    """Rank 0 (of a distributed run; the process otherwise) claims ``url``; a refusal is raised on every
    rank (with rank 0's one-line message)."""
    claim, message = None, ""
    error: InfdError | None = None
    if current().is_main:
        try:
            claim = claim_output(url, fingerprint, kind=kind, overwrite=overwrite, ignore=ignore)
        except InfdError as exc:
            error, message = exc, str(exc)
    messages = gather_lists([message])
    if error is not None:
        raise error
    if messages[0]:
        raise UsageError(messages[0])
    return claim


@contextlib.contextmanager
def claimed(claim: OutputClaim | None) -> Iterator[None]:
    """Hold ``claim`` (None on ranks other than 0) for a block: released at the end; a failure before
    anything was written removes the location the claim created."""
    if claim is None:
        yield
        return
    try:
        yield
    except BaseException:
        claim.abandon()
        raise
    claim.release()
