"""Benchmark: our state round trip vs SpiffWorkflow's default serializer round trip.

(A) ours:    Engine.load (spec cached) + complete one task + Instance.dumps()
(B) default: BpmnWorkflowSerializer (camunda config) deserialize_json of a full
             workflow including its spec + complete the same task + serialize_json

Both sides start from the same point of the 支部党员大会 process (``decide`` ready,
after one return-for-revision loop) and complete the same task with the same data.

Usage:
    python benchmarks/engine_roundtrip.py                 # interleaved A/B, medians, ratio
    python benchmarks/engine_roundtrip.py --mode ours --iterations 2000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from workflows import Engine  # noqa: E402

KEY, VERSION = "branch_congress", 1
ACTIONS = {
    "meeting.notify", "meeting.close_feedback", "meeting.close_check_in", "meeting.record_minutes",
    "meeting.reschedule", "meeting.cancel", "review.submit", "review.decide",
    "review.acknowledge", "review.confirm",
}
# Reach ``decide`` after one return loop, so the tree has a realistic size.
SCRIPT = [{}, {"voting_feedback_ratio": 0.8}, {}, {}, {"approved": False}, {}, {}]
STEP_DATA = {"approved": True, "review_comment": "同意"}


def prepare() -> tuple[Engine, bytes, str, BpmnWorkflowSerializer, str]:
    """Drive one instance to the measured step; return both serialised forms."""
    xml = (ROOT / "bpmn" / "branch_congress.bpmn").read_bytes()
    engine = Engine(actions=ACTIONS)
    instance = engine.start(KEY, VERSION, lambda: xml, {"meeting_id": 42})
    for data in SCRIPT:
        instance.complete(instance.ready_tasks()[0].id, data)
    ours = instance.dumps()
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))
    default = serializer.serialize_json(_stock_workflow(engine))
    return engine, xml, ours, serializer, default


def _stock_workflow(engine: Engine) -> BpmnWorkflow:
    """Drive a plain BpmnWorkflow (same spec, safe script engine) through SCRIPT."""
    compiled = engine.cache.get((KEY, VERSION), lambda: None)  # cached by prepare()
    workflow = BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=engine.script_engine)
    workflow.task_tree.data.update({"meeting_id": 42})
    workflow.do_engine_steps()
    for data in SCRIPT:
        _complete_next(workflow, dict(data))
    return workflow


def _complete_next(workflow: BpmnWorkflow, data: dict) -> None:
    task = workflow.get_next_task(state=TaskState.READY, manual=True)
    task.data.update(data)
    task.run()
    workflow.do_engine_steps()


def run_ours(engine: Engine, xml: bytes, saved: str) -> str:
    """One round trip through our engine."""
    instance = engine.load(KEY, VERSION, lambda: xml, saved)
    instance.complete(instance.ready_tasks()[0].id, dict(STEP_DATA))
    return instance.dumps()


def run_default(serializer: BpmnWorkflowSerializer, engine: Engine, saved: str) -> str:
    """One round trip through SpiffWorkflow's default serializer."""
    workflow = serializer.deserialize_json(saved)
    workflow.script_engine = engine.script_engine
    _complete_next(workflow, dict(STEP_DATA))
    return serializer.serialize_json(workflow)


def timed(func, *args) -> float:
    """Wall time of one call in microseconds."""
    start = time.perf_counter()
    func(*args)
    return (time.perf_counter() - start) * 1e6


def compare(repetitions: int, batch: int) -> None:
    """Interleave batches of A and B and report medians of per-op times."""
    engine, xml, ours, serializer, default = prepare()
    run_ours(engine, xml, ours), run_default(serializer, engine, default)  # warm up
    a_times, b_times = [], []
    for _ in range(repetitions):
        a_times.append(statistics.fmean(timed(run_ours, engine, xml, ours) for _ in range(batch)))
        b_times.append(statistics.fmean(timed(run_default, serializer, engine, default) for _ in range(batch)))
    a, b = statistics.median(a_times), statistics.median(b_times)
    print(f"state sizes: ours {len(ours)} chars, default {len(default)} chars")
    print(f"A ours    (load+complete+dumps):              {a:9.1f} us/op")
    print(f"B default (deserialize+complete+serialize):   {b:9.1f} us/op")
    print(f"ratio A/B = {a / b:.3f} (target <= 0.30); {repetitions} reps x {batch} ops, medians")


def single(mode: str, iterations: int) -> None:
    """Run only one side, for external whole-process timing."""
    engine, xml, ours, serializer, default = prepare()
    start = time.perf_counter()
    for _ in range(iterations):
        if mode == "ours":
            run_ours(engine, xml, ours)
        else:
            run_default(serializer, engine, default)
    elapsed = time.perf_counter() - start
    print(f"{mode}: {iterations} ops in {elapsed:.3f} s = {elapsed / iterations * 1e6:.1f} us/op")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["ours", "default"])
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--repetitions", type=int, default=15)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args(argv)
    if args.mode:
        single(args.mode, args.iterations)
    else:
        compare(args.repetitions, args.batch)


if __name__ == "__main__":
    main()
