"""The ``triage`` command: the product's front door for building, asking, batching, evaluating, serving.

Over 400 lines because it holds one thin command per product action; the work lives in the modules they
call.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from knowledge.errors import KnowledgeBaseError
from knowledge.sources import write_text_atomic
from triage.config import Settings, get_settings
from triage.errors import ConflictError, InputError, StoreError
from triage.stages.answering import NO_ANSWER_SHARE
from triage.store import Store

if TYPE_CHECKING:
    from triage.helpdesk.learned import LearnedSet
    from triage.kb import KnowledgeBase
    from triage.pipeline import Pipeline

app = typer.Typer(help="CX triage: answer, tag and prioritise customer messages from a knowledge base.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
kb_app = typer.Typer(help="Build and inspect knowledge-base index snapshots.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
keys_app = typer.Typer(help="API keys for the bot, agents and admins (stored hashed), and the chat widget's public "
                            "keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
history_app = typer.Typer(help="Learn from the helpdesk's past tickets: import an export, list and remove what "
                               "was learned.", no_args_is_help=True)
app.add_typer(history_app, name="history")
err = Console(stderr=True, soft_wrap=True)  # never wrap "file:line: problem" lines
out = Console(soft_wrap=True)

BATCH_PROBLEMS_SHOWN = 10  # invalid batch lines named on stderr (all of them are in the output)
KbOption = Annotated[Path | None, typer.Option("--kb", help="Index folder (default: the demo KB).")]
TaxonomyOption = Annotated[Path | None, typer.Option(
    "--taxonomy", help="Taxonomy file: YAML or CSV (default: TRIAGE_TAXONOMY, the demo's, or the FAQ entries' tags).")]
PolicyOption = Annotated[Path | None, typer.Option(
    "--policy", help="Priority policy YAML (default: TRIAGE_PRIORITY_POLICY, else the demo's rules).")]
TagLabelsOption = Annotated[Path | None, typer.Option(
    "--tag-labels", help="Labeled messages (JSONL with expected_tag) the tag classifier also learns from.")]


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback; the bar appears on the first call (so work that turns out not
    to be needed, like an up-to-date demo index, prints nothing)."""
    with progress_bars(label) as (progress,):
        yield progress


@contextmanager
def progress_bars(*labels: str) -> Iterator[list[Callable[[int, int], None]]]:
    """One ``progress(done, total)`` callback per step of a long job, each bar shown from its first call."""
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=err)
    tasks = [bar.add_task(label, total=None, visible=False) for label in labels]

    def callback(task: TaskID) -> Callable[[int, int], None]:
        def progress(done: int, total: int) -> None:
            if not bar.live.is_started:
                bar.start()
            bar.update(task, completed=done, total=total, visible=True)
        return progress

    try:
        yield [callback(task) for task in tasks]
    finally:
        if bar.live.is_started:
            bar.stop()


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print("[bold red]error:[/]", end=" ")
    err.print(message, highlight=False, markup=False)  # file names may hold [brackets]
    return typer.Exit(code)


@contextmanager
def clean_errors() -> Iterator[None]:
    """Turn known errors into one clear message and exit code 2 instead of a traceback."""
    try:
        yield
    except (KnowledgeBaseError, InputError, ConflictError, StoreError, ValueError) as exc:
        raise fail(str(exc)) from exc


def open_kb(settings: Settings, kb: Path | None, taxonomy: Path | None = None,
            tag_labels: Path | None = None, store: Store | None = None, policy: Path | None = None) -> KnowledgeBase:
    """Open the index and train the tagger (with the corrections agents stored in ``store`` for this KB and
    taxonomy, if given: ``triage.corrections``); a progress bar appears only if the demo index has to be built."""
    from triage.kb import KnowledgeBase  # imported here: loading it loads FAISS and the encoder

    with progress_bar("building the demo index") as progress:
        return KnowledgeBase.open(settings, kb, progress=progress, taxonomy=taxonomy, tag_labels=tag_labels,
                                  policy=policy, store=store)


def service_pipeline(settings: Settings, kb: Path | None, taxonomy: Path | None = None,
                     tag_labels: Path | None = None, policy: Path | None = None) -> Pipeline:
    """The pipeline the service would run on ``kb`` with ``taxonomy``: trained with the store's corrections of
    that KB and taxonomy (never another's), handing off from the entries agents and customers turned down (its
    repeat-contact history is its own, in memory)."""
    from triage.learning import distrusted_entries
    from triage.pipeline import Pipeline

    store = Store.open(settings.store_url)
    try:
        pipeline = Pipeline.for_settings(open_kb(settings, kb, taxonomy, tag_labels, store, policy), settings)
        pipeline.distrusted_faqs = distrusted_entries(store, settings.faq_complaint_limit)
    finally:
        store.close()
    return pipeline


@kb_app.command("build")
def kb_build(
    faq: Annotated[list[Path], typer.Option("--faq", help="FAQ file (.jsonl .json .yaml .yml .csv); repeatable.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Index folder; its previous snapshot keeps serving "
                                                        "until the new one is complete.")],
    docs: Annotated[Path | None, typer.Option("--docs", help="Folder of manuals (.md .txt .html).")] = None,
    allow_empty: Annotated[bool, typer.Option(
        "--allow-empty", help="Accept an FAQ file or manuals folder without any entry (by default an error, "
                              "so an emptied export cannot replace the served KB).")] = False,
) -> None:
    """Validate the sources, embed what changed and swap in a new index snapshot."""
    from knowledge.index import load_snapshot
    from triage.kb import build_kb

    settings = get_settings()
    with clean_errors(), progress_bars("embedding", "calibrating (folds)") as (embedding, calibrating):
        learned = stored_learned_set(settings, out_dir, faq)
        report = build_kb(settings, out_dir, faq, docs, progress=embedding, allow_empty=allow_empty,
                          calibration_progress=calibrating, learned=learned)
    if report.stale_removed:
        err.print(f"removed {report.stale_removed} unfinished build folder(s) left by killed builds")
    err.print(f"built {report.path}: {report.entries} FAQ entries, {report.chunks} units "
              f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f} s")
    err.print(calibration_line(load_snapshot(report.path).manifest["calibration"]), highlight=False)


def stored_learned_set(settings: Settings, kb: Path, faq: list[Path]) -> LearnedSet | None:
    """What the store learned about the KB ``kb`` from its history and verdicts (None: nothing yet)."""
    from knowledge.sources import load_faq_files
    from triage.helpdesk.learned import learned_scope, learned_set

    store = Store.open(settings.store_url)
    try:
        learned = learned_set(store.learned_examples(learned_scope(settings, kb)),
                              {e.id for e in load_faq_files(faq, True)}, store.answer_verdicts())
    finally:
        store.close()
    return learned if learned else None


def calibration_line(summary: dict[str, Any]) -> str:
    """What calibrated the KB, in one line for the build's output."""
    if "why_no_answers" in summary:
        return f"calibration: every message will be handed off: {summary['why_no_answers']}"
    asked = (f"{summary['held_out_answerable']} of its own phrasings held out and "
             f"{summary['held_out_unanswerable']} of whole entries held out" if summary.get("source") == "self"
             else f"{summary.get('learned_answered')} past tickets answered from an entry and "
                  f"{summary.get('learned_by_hand')} answered by hand" if summary.get("source") == "learned"
             else f"{summary.get('n_labels')} labeled messages")
    precision, coverage = summary.get("fit_precision"), summary.get("fit_coverage")
    outcome = (f"precision {precision:.3f} at coverage {coverage:.3f} on them" if precision is not None
               else "no cut-off met the target: every message will be handed off"
               + (" (add labels or lower --target-precision)" if summary.get("source") == "labels" else ""))
    promise = (f"answers where it is at least {summary.get('target_precision')} sure the entry is right"
               if summary.get("threshold_rule") == "pointwise" else
               f"for precision ≥ {summary.get('target_precision')} at its lower bound")
    return (f"calibration ({summary.get('source')}): threshold {summary['threshold']:.3f}, {promise}; from "
            f"{asked}; {outcome}")


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help="The customer's message.")],
    kb: KbOption = None,
    taxonomy: TaxonomyOption = None,
    policy: PolicyOption = None,
    section: Annotated[str | None, typer.Option(help="Page the bot sits on: its entries rank first.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
) -> None:
    """Answer and triage one message: auto-answer or hand-off with citations, tag, priority, real need and a
    reply draft."""
    from triage.models import Message

    settings = get_settings()
    with clean_errors():
        try:
            message = Message(text=text)
        except ValidationError as exc:
            raise InputError("the message text must not be empty") from exc
        if len(text) > settings.max_message_chars:
            raise InputError(f"the message has {len(text)} characters; the limit is {settings.max_message_chars}")
        result = service_pipeline(settings, kb, taxonomy, policy=policy).assess(message, section=section)[0]
    if as_json:
        out.print_json(result.model_dump_json())
        return
    out.print(f"[bold]{result.decision}[/] (confidence {result.confidence:.2f}) - {result.decision_reason}",
              highlight=False)
    if result.answer:
        out.print(result.answer, highlight=False, markup=False)
    for c in result.citations:
        out.print(f"  [{c.score:.3f}] {c.id}: {c.title}", highlight=False, markup=False)
    if result.tag:
        sure = result.tag_probability if result.tag_probability is not None else result.tag_confidence
        candidates = ", ".join(f"{c.tag} {c.probability:.2f}" for c in result.tag_candidates
                               if c.probability is not None)
        how = (f"for review{', candidates: ' + candidates if candidates else ''}" if result.sent_to_review
               else f"{sure or 0.0:.2f} likely right")
        out.print(f"tag {result.tag} ({how}), priority {result.priority}"
                  + (f", flags {', '.join(result.flags)}" if result.flags else ""), highlight=False, markup=False)
        for reason in result.reasons:
            out.print(f"  - {reason}", highlight=False, markup=False)
    if result.need and result.drafting:
        out.print(f"real need: {result.need.real_need}", highlight=False, markup=False)
        for label, value in (("ask", result.need.clarifying_question), ("alternative", result.need.alternative),
                             ("missing", ", ".join(result.need.missing_info))):
            if value:
                out.print(f"  {label}: {value}", highlight=False, markup=False)
        out.print(f"[bold]draft[/] ({result.drafting.source}, {result.drafting.kind}) "
                  f"lint: {'; '.join(result.lint) or 'clean'}", highlight=False)
        out.print(result.draft or "", highlight=False, markup=False)


@app.command()
def batch(
    in_file: Annotated[Path, typer.Option("--in", help="Messages, one JSON object per line.")],
    out_file: Annotated[Path, typer.Option("--out", help="Results, one per non-blank input line, in input order.")],
    kb: KbOption = None,
    taxonomy: TaxonomyOption = None,
    tag_labels: TagLabelsOption = None,
    policy: PolicyOption = None,
    strict: Annotated[bool, typer.Option("--strict", help="Any invalid line fails the whole file (each named "
                                                          "file:line) and nothing is written.")] = False,
    timezone: Annotated[str | None, typer.Option(help="Read a created_at written without a time zone as a time "
                                                      "in this IANA zone (e.g. Asia/Seoul). Unset: such a line "
                                                      "is invalid.")] = None,
) -> None:
    """Run the pipeline over a file of messages (in time order, so repeat contacts are found; results are
    written in input order). An invalid line gets an error result in its place ({"id", "line", "error"}) and
    the others are processed (exit 0); a file without any valid line is an error (exit 2)."""
    from triage.inputs import bad_lines, line_problems, message_lines
    from triage.pipeline import chronological
    from triage.reports import zone

    settings = get_settings()
    with clean_errors():
        lines = message_lines(in_file, settings.max_message_chars, zone=zone(timezone) if timezone else None)
        if not lines:
            raise InputError(f"{in_file}: no messages in the file")
        problems = line_problems(in_file, lines)
        valid = [(i, line.message) for i, line in enumerate(lines) if line.message is not None]
        if problems and (strict or not valid):
            raise bad_lines(problems)
        results = ["" if line.problem is None else json.dumps(
            {"id": line.readable_id, "line": line.lineno, "error": {"code": "invalid_input", "message": line.problem}},
            ensure_ascii=False) for line in lines]
        messages = [message for _, message in valid]
        pipeline = service_pipeline(settings, kb, taxonomy, tag_labels, policy)
        with progress_bar("triage") as progress:
            progress(0, len(messages))
            for done, k in enumerate(chronological(messages), 1):
                results[valid[k][0]] = pipeline.run(messages[k]).model_dump_json()
                progress(done, len(messages))
        write_text_atomic(out_file, "".join(line + "\n" for line in results))
    if problems:
        shown = problems[:BATCH_PROBLEMS_SHOWN] + [f"… and {len(problems) - BATCH_PROBLEMS_SHOWN} more"] * (
            len(problems) > BATCH_PROBLEMS_SHOWN)
        err.print(f"{len(problems)} of {len(lines)} lines invalid: see the output (an error result in place of each)"
                  + "".join(f"\n  {p}" for p in shown), highlight=False, markup=False)
        if timezone is None and any("needs a time zone" in p for p in problems):
            err.print("times without a zone: an export of local times? --timezone Asia/Seoul (or its zone) reads "
                      "them in that zone", highlight=False, markup=False)
    err.print(f"wrote {len(results)} results ({len(messages)} triaged) to {out_file}", highlight=False)


@app.command()
def calibrate(
    labels: Annotated[Path | None, typer.Option(
        "--labels", help="Labeled messages (JSONL with expected_faq_id).")] = None,
    verdicts: Annotated[bool, typer.Option(
        "--verdicts", help="Refine with the store's verdicts on auto-answers (agents' and customers'): the "
                           "threshold rises where they miss the target precision.")] = False,
    target_precision: Annotated[float, typer.Option(min=0.5, max=1.0)] = 0.95,
    no_answer_share: Annotated[float, typer.Option(
        min=0.0, max=0.95, help="Share of traffic the KB cannot answer; labels are weighted to it.")] = NO_ANSWER_SHARE,
    kb: KbOption = None,
) -> None:
    """Fit the auto-answer model on labeled messages, and/or refine the KB's model with the verdicts on its
    auto-answers; the result is stored with the index snapshot."""
    from knowledge.index import load_snapshot
    from knowledge.search import Searcher
    from triage.calibration import calibrate_snapshot, calibration_summary, refine_with_verdicts, write_calibration
    from triage.kb import answer_model, embedder_for, kb_path

    if labels is None and not verdicts:
        raise fail("give --labels FILE (labeled messages), --verdicts (the store's verdicts on auto-answers), or both")
    settings = get_settings()
    with clean_errors():
        embedder = embedder_for(settings)
        snapshot = load_snapshot(kb_path(settings, kb), embedder)
        searcher = Searcher(snapshot, embedder, settings.section_window)
        if labels is not None:
            model = calibrate_snapshot(searcher, labels, target_precision, no_answer_share)
            err.print(calibration_line(calibration_summary(model)), highlight=False)
        else:
            model, _ = answer_model(snapshot, embedder, settings.section_window)
        if verdicts:
            store = Store.open(settings.store_url)
            try:
                model = refine_with_verdicts(searcher, model, store.answer_verdicts())
            finally:
                store.close()
            before, n = model.meta["threshold_before_verdicts"], model.meta["verdicts"]
            change = ("never auto-answers: " + model.meta["why_no_answers"] if model.threshold > 1.0
                      else f"threshold {before:.3f} → {model.threshold:.3f}" if model.threshold > before
                      else f"threshold {model.threshold:.3f} kept")
            err.print(f"{n} judged auto-answers, {model.meta['verdict_precision']:.3f} right: {change}")
            write_calibration(snapshot.path, model)
    err.print(f"stored in {snapshot.path / 'calibration.json'}")


@app.command("eval")
def run_eval(
    suites: Annotated[list[str], typer.Argument(help="clinc150, parakqc, demo (answering); bitext (tagging); "
                                                     "labeled (the whole pipeline on --in); tagcv (5-fold "
                                                     "cross-validation of tag and priority on --in); drafts "
                                                     "(reply drafts on the demo dev and Bitext responses sets); "
                                                     "unseen (day one on KBs never tuned on, no labels); "
                                                     "history (the learning curve: 0-100% of a helpdesk "
                                                     "history imported, sets telecom, travel, bitext, clinc150); "
                                                     "question-pairs (coverage features on Korean "
                                                     "question pairs); review (drafts judged by a reader: "
                                                     "--export writes the files to judge); injection (the "
                                                     "prompt-injection guard: written variants, ordinary "
                                                     "messages, and through the pipeline)")],
    results_dir: Annotated[Path, typer.Option(help="Where SUITE.json and SUITE.md go.")] = Path("evals/results"),
    in_file: Annotated[Path | None, typer.Option("--in", help="labeled: messages with expected_faq_id, "
                                                              "expected_tag, expected_priority.")] = None,
    kb: KbOption = None,
    taxonomy: TaxonomyOption = None,
    tag_labels: TagLabelsOption = None,
    policy: PolicyOption = None,
    name: Annotated[str | None, typer.Option(help="labeled: report name (default labeled-<input stem>).")] = None,
    llm: Annotated[bool, typer.Option("--llm", help="drafts: draft with the LLM at TRIAGE_LLM_BASE_URL "
                                                    "(report drafts-llm).")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="drafts: only the first N messages of each set; review "
                                                          "--export: drafts per set (default 40).")] = None,
    unseen_sets: Annotated[list[str] | None, typer.Option(
        "--set", help="unseen: which sets (repeatable; default all: demo, telecom, market, travel, mobility, "
                      "clinc150, hwu64, bitext, parakqc).")] = None,
    split: Annotated[str, typer.Option(
        help="unseen: report on the sets' test files (default), or on their tuning files (for choosing "
             "constants; no labeled run).")] = "test",
    review_dir: Annotated[Path, typer.Option(help="review: where the review files are (SET.jsonl; another "
                                                  "reader's in a subfolder, scored side by side).")] = Path(
        "evals/review"),
    seed: Annotated[int | None, typer.Option(help="review --export: the sample's seed (another seed gives drafts "
                                                  "nobody has read yet).")] = None,
    export: Annotated[bool, typer.Option("--export", help="review: write a sample of drafts of each --set "
                                                          "(demo, telecom, market, travel, mobility) to judge, "
                                                          "replacing its file.")] = False,
) -> None:
    """Run evaluation suites and write evals/results/SUITE.{json,md}."""
    from evals.draft_evals import drafts, drafts_markdown
    from evals.gap_evals import gap_eval, gap_markdown
    from evals.injection import injection_eval, injection_markdown
    from evals.question_pairs import question_pairs, question_pairs_markdown
    from evals.review import REVIEW_SETS, SAMPLE, SEED, export_review, review_files, review_markdown, score_review
    from evals.runner import SUITES, run_suite, write_report
    from evals.triage_evals import (
        bitext,
        bitext_markdown,
        labeled,
        labeled_markdown,
        read_labeled_messages,
        tag_cross_validation,
        tag_cv_markdown,
    )
    from evals.unseen import SETS as UNSEEN_SETS
    from evals.unseen import run_unseen, unseen_markdown
    from triage.pipeline import Pipeline

    settings = get_settings()
    known = {*SUITES, "bitext", "labeled", "tagcv", "drafts", "gaps", "unseen", "history", "question-pairs",
             "review", "injection"}
    if unknown := [s for s in suites if s not in known]:
        raise fail(f"unknown suite(s) {', '.join(unknown)}: choose from {', '.join(SUITES)}, bitext, labeled, tagcv, "
                   "drafts, gaps, unseen, history, question-pairs, review, injection")
    if "review" in suites and (bad := [s for s in unseen_sets or [] if s not in REVIEW_SETS]):
        raise fail(f"review: no review set {', '.join(bad)}: choose from {', '.join(REVIEW_SETS)}")
    if bad_sets := [s for s in unseen_sets or [] if s not in UNSEEN_SETS]:
        raise fail(f"unknown set(s) {', '.join(bad_sets)}: choose from {', '.join(UNSEEN_SETS)}")
    if split not in ("test", "tuning"):
        raise fail(f"--split must be test or tuning, not {split!r}")
    if {"labeled", "tagcv"} & set(suites) and in_file is None:
        raise fail("the labeled and tagcv suites need --in FILE (JSONL messages with expected_* labels)")
    with clean_errors():
        for suite in suites:
            if suite == "bitext":
                report = bitext(settings, err.print)
                text = bitext_markdown(report)
                write_report(results_dir, "bitext", report, text)
            elif suite == "gaps":
                report = gap_eval(settings, err.print)
                text = gap_markdown(report)
                write_report(results_dir, "gaps", report, text)
            elif suite == "injection":
                report = injection_eval(settings, err.print)
                text = injection_markdown(report)
                write_report(results_dir, "injection", report, text)
            elif suite == "question-pairs":
                report = question_pairs(settings, err.print)
                text = question_pairs_markdown(report)
                write_report(results_dir, "question-pairs", report, text)
            elif suite == "drafts":
                report = drafts(settings, err.print, use_llm=llm, limit=limit)
                text = drafts_markdown(report)
                write_report(results_dir, "drafts-llm" if llm else "drafts", report, text)
            elif suite == "labeled" and in_file is not None:
                rows = read_labeled_messages(in_file, settings.max_message_chars)
                knowledge = open_kb(settings, kb, taxonomy, tag_labels, policy=policy)
                if knowledge.tagger is None:
                    raise fail("no taxonomy: pass --taxonomy FILE (or give the FAQ entries tags)")
                report = {"input": str(in_file), "kb": str(kb or settings.kb_dir or "demo"),
                          "taxonomy": knowledge.tagger.taxonomy.origin, "policy": knowledge.policy.origin,
                          "embedder": knowledge.embedder.name,
                          **labeled(Pipeline(knowledge, settings.repeat_window), rows, err.print)}
                text = labeled_markdown(report)
                write_report(results_dir, name or f"labeled-{in_file.stem}", report, text)
            elif suite == "tagcv" and in_file is not None:
                knowledge = open_kb(settings, kb, taxonomy, tag_labels, policy=policy)
                cache = settings.var_dir / "eval" / "tagcv" / "query-cache"
                report = tag_cross_validation(knowledge, read_labeled_messages(in_file, settings.max_message_chars),
                                              cache)
                report = {"input": str(in_file), "taxonomy": knowledge.tagger.taxonomy.origin if knowledge.tagger
                          else None, "embedder": knowledge.embedder.name, **report}
                text = tag_cv_markdown(report)
                write_report(results_dir, f"tagcv-{in_file.stem}", report, text)
            elif suite == "review":
                names = unseen_sets or list(REVIEW_SETS)
                if export:
                    for set_name in names:
                        written = export_review(settings, set_name, review_dir / f"{set_name}.jsonl", err.print,
                                                limit or SAMPLE, SEED if seed is None else seed)
                        err.print(f"{review_dir / f'{set_name}.jsonl'}: {written} drafts to judge (fill verdict, "
                                  "the four checks and a note; then run `triage eval review`)")
                    continue
                report = score_review(review_files(review_dir, names))
                text = review_markdown(report)
                write_report(results_dir, "review", report, text)
            elif suite == "history":
                from evals.history_eval import HISTORY_SETS, history_markdown, run_history

                if bad := [s for s in unseen_sets or [] if s not in HISTORY_SETS]:
                    raise fail(f"history: no history export for {', '.join(bad)}: choose from "
                               f"{', '.join(HISTORY_SETS)}")
                report = run_history(settings, unseen_sets or list(HISTORY_SETS), results_dir, split, err.print)
                text = history_markdown(report)
                write_report(results_dir, "history" if split == "test" else f"history-{split}", report, text)
            elif suite == "unseen":
                report = run_unseen(settings, unseen_sets or list(UNSEEN_SETS), results_dir, split, err.print)
                text = unseen_markdown(report)
                write_report(results_dir, "unseen" if split == "test" else f"unseen-{split}", report, text)
            else:
                text = run_suite(suite, settings, results_dir, log=err.print)
            out.print(text, highlight=False, markup=False)


@app.command()
def bench(
    sizes: Annotated[str, typer.Option(help="KB sizes in units for query latency.")] = "1000,10000,100000",
    ann_sizes: Annotated[str, typer.Option(help="Vector counts for exact vs HNSW.")] = "100000,1000000",
    out_dir: Annotated[Path, typer.Option("--out", help="Where bench.{json,md} go.")] = Path("evals/results"),
    parts: Annotated[str, typer.Option(
        help="Which parts to run: build,query,ann,triage,inbox,gaps,length,serving,fuzz,replicas,widget,history "
             "(others keep their previous figures; history writes history-bench.{json,md})."
    )] = "build,query,ann,triage,inbox",
    database_url: Annotated[str | None, typer.Option(
        help="inbox and replicas parts: an EMPTY database to load (it gets thousands of test conversations; "
             "one part per database). Default for inbox: a temporary SQLite file; replicas needs one "
             "(PostgreSQL).")] = None,
    serving_seconds: Annotated[float, typer.Option(
        help="serving part: seconds of bot answers per scenario.")] = 45,
    fuzz_seconds: Annotated[float, typer.Option(min=1, help="fuzz part: seconds of schemathesis per database.")] = 600,
    fuzz_database_url: Annotated[str | None, typer.Option(
        help="fuzz part: an EMPTY database to fuzz besides a temporary SQLite file (e.g. PostgreSQL).")] = None,
    history_sizes: Annotated[str, typer.Option(
        help="history part: export sizes in tickets imported with the real encoder.")] = "256,1024",
    history_rebuild_max: Annotated[int, typer.Option(
        help="history part: rebuild the KB after the import (timed apart) at sizes up to this many tickets.")] = 256,
    history_stub_sizes: Annotated[str, typer.Option(
        help="history part: export sizes imported with the encoder stubbed (memory, time outside the encoder); "
             "empty: none.")] = "20000",
) -> None:
    """Measure build throughput, query latency and RSS, exact vs approximate search, triage latency, a
    message's cost by its length (length), the bot's latency while long messages or a hanging LLM keep other
    requests busy (serving), 5xx under schemathesis (fuzz), the inbox load on one and two replicas
    (replicas), and ``triage history import`` on large synthetic exports (history)."""
    from evals.bench import PARTS, run_bench

    chosen = tuple(p for p in parts.split(",") if p)
    if unknown := [p for p in chosen if p not in PARTS]:
        raise fail(f"unknown part(s) {', '.join(unknown)}: choose from {', '.join(PARTS)}")
    report = run_bench(get_settings(), [int(s) for s in sizes.split(",") if s],
                       [int(s) for s in ann_sizes.split(",") if s], out_dir, log=err.print, parts=chosen,
                       database_url=database_url, serving_seconds=serving_seconds, fuzz_seconds=fuzz_seconds,
                       fuzz_database_url=fuzz_database_url,
                       history_sizes=tuple(int(s) for s in history_sizes.split(",") if s),
                       history_stub_sizes=tuple(int(s) for s in history_stub_sizes.split(",") if s),
                       history_rebuild_max=history_rebuild_max)
    out.print(report, highlight=False, markup=False)


@app.command()
def gaps(
    days: Annotated[int, typer.Option(min=1, max=366, help="The period: the last N days (trend: the N before).")] = 30,
    out_dir: Annotated[Path, typer.Option("--out", help="Where gaps.md and gaps.csv go.")] = Path("var/gaps"),
    kb: KbOption = None,
) -> None:
    """FAQ gaps from the inbox store: questions nobody could answer, clustered and ranked, with draft entries."""
    from knowledge.gaps import gaps_csv, gaps_markdown
    from triage.faq_gaps import current_gaps
    from triage.llm import LLMClient

    settings = get_settings()
    with clean_errors():
        knowledge = open_kb(settings, kb)
        err.print(f"finding the gaps of the last {days} days in {settings.store_url.split('@')[-1]}")
        found = current_gaps(Store.open(settings.store_url), knowledge, settings, days,
                             llm=LLMClient.from_settings(settings))
    title = f"FAQ 공백 {found.period_start:%Y-%m-%d} ~ {found.period_end:%Y-%m-%d}"
    text = gaps_markdown(found.gaps, title)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gaps.md").write_text(text, encoding="utf-8")
    (out_dir / "gaps.csv").write_text(gaps_csv(found.gaps), encoding="utf-8")
    out.print(text, highlight=False, markup=False)
    err.print(f"{len(found.gaps)} gaps from {found.questions} questions; wrote {out_dir}/gaps.md and gaps.csv")


@app.command()
def report(
    period: Annotated[str, typer.Option(help="day or week (weeks start on Monday).")] = "day",
    start: Annotated[str | None, typer.Option(
        help="First day, YYYY-MM-DD (default: 7 days back for day, 8 weeks back for week).")] = None,
    end: Annotated[str | None, typer.Option(
        help="The day after the last one, YYYY-MM-DD (default: tomorrow, so today is included).")] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Folder for report.html, the charts, report.csv and report.json "
                      "(default: var/reports/<period>-<start>-<end>/).")] = None,
    timezone: Annotated[str, typer.Option(help="The days are counted in this timezone.")] = "Asia/Seoul",
    with_gaps: Annotated[bool, typer.Option("--gaps/--no-gaps", help="Add the top FAQ gaps (loads the KB).")] = True,
    kb: KbOption = None,
) -> None:
    """The CX leads' report from the inbox store: volume, auto-answers, acceptance, first response, CES, gaps."""
    from triage.faq_gaps import top_gaps
    from triage.report_charts import run_report
    from triage.reports import parse_date, resolve_range

    settings = get_settings()
    with clean_errors():
        gaps = None
        if with_gaps:
            first, last = resolve_range(period, parse_date(start, "start"), parse_date(end, "end"))
            err.print("finding the top FAQ gaps of the period")
            gaps = top_gaps(Store.open(settings.store_url), open_kb(settings, kb), settings, first, last, timezone)
        page = run_report(settings, period, start, end, out_dir,
                          lambda line: err.print(line, highlight=False, markup=False), timezone=timezone, gaps=gaps)
    out.print(str(page), highlight=False, markup=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    kb: KbOption = None,
    policy: PolicyOption = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs)."""
    import uvicorn

    from triage.api.app import create_app

    settings = get_settings()
    if kb is not None:
        settings = settings.model_copy(update={"kb_dir": kb})
    if policy is not None:  # the message worker and every reload read it from the settings
        settings = settings.model_copy(update={"priority_policy": policy})
    if "message_worker" not in settings.model_fields_set and ":memory:" not in settings.store_url \
            and settings.store_url != "sqlite://":
        settings = settings.model_copy(update={"message_worker": True})
    with clean_errors():
        store = Store.open(settings.store_url)
        if not store.api_keys():
            write_initial_keys(store, settings.initial_keys_file)
        application = create_app(settings, kb_loaded=open_kb(settings, settings.kb_dir, store=store), store=store)
    host, port = host or settings.host, port or settings.port
    err.print(f"serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    err.print(f"agents' inbox: http://{host}:{port}/inbox, FAQ gaps: /gaps, CX report: /reports  (sign in with an "
              f"agent key from {settings.initial_keys_file} or `triage keys create`)")
    if settings.serves_demo and settings.seed_demo_inbox and not store.count_conversations():
        err.print("filling the empty inbox with the demo messages in the background (about a minute)")
    uvicorn.run(application, host=host, port=port, log_level="info")


def write_initial_keys(store: Store, path: Path) -> None:
    """The first start makes one key per role and writes them where only the owner can read them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{role}\t{store.create_key(f'initial-{role}', role)}" for role in ("agent", "bot", "admin")]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# role<TAB>key: shown once; the service keeps only their hashes\n" + "\n".join(lines) + "\n")
    err.print(f"created the first API keys (agent, bot, admin) in {path}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what uses the key, e.g. 'alice' or 'chatbot'.")],
    role: Annotated[str, typer.Option(help="bot (bot endpoints), agent (inbox and feedback), admin, or widget (the "
                                           "chat widget's public key, for the sites given with --origin).")],
    origin: Annotated[list[str] | None, typer.Option(
        help="widget keys: a site that may embed the widget, e.g. https://shop.example (repeat for more).")] = None,
) -> None:
    """Create a key and print it once (only its hash is stored; a widget key is public and kept as is)."""
    if role not in ("bot", "agent", "admin", "widget"):
        raise fail(f"--role must be bot, agent, admin or widget, not {role!r}")
    origins = [o.rstrip("/") for o in origin or []]
    if role == "widget":
        bad = [o for o in origins if urlsplit(o).scheme not in ("http", "https") or not urlsplit(o).netloc
               or urlsplit(o).path]
        if not origins or bad:
            raise fail("a widget key needs --origin with each site that embeds it, as scheme://host[:port] (e.g. "
                       f"https://shop.example){'; not ' + ', '.join(bad) if bad else ''}")
        with clean_errors():
            key = Store.open(get_settings().store_url).create_widget_key(name, origins)
        out.print(key)
        err.print(f'embed: <script src="{get_settings().public_url.rstrip("/")}/static/widget.js" data-key="{key}" '
                  'defer></script>')
        return
    if origins:
        raise fail("--origin is for widget keys only")
    with clean_errors():
        out.print(Store.open(get_settings().store_url).create_key(name, role))  # type: ignore[arg-type]


@keys_app.command("list")
def keys_list() -> None:
    """Every key's name, role, prefix and whether it is revoked."""
    with clean_errors():
        store = Store.open(get_settings().store_url)
        for key in store.api_keys():
            state = "revoked" if key["revoked"] else "active"
            out.print(f"{key['name']}\t{key['role']}\t{key['prefix']}…\t{state}")
        for widget in store.widget_keys():
            state = "revoked" if widget["revoked"] else "active"
            out.print(f"{widget['name']}\twidget\t{widget['key']}\t{state}\t{' '.join(widget['origins'])}")


@keys_app.command("revoke")
def keys_revoke(name: Annotated[str, typer.Argument(help="The key's name.")],
                widget: Annotated[bool, typer.Option(help="The key is a widget key.")] = False) -> None:
    """Revoke a key at once (a widget key within seconds in every replica)."""
    with clean_errors():
        store = Store.open(get_settings().store_url)
        store.revoke_widget_key(name) if widget else store.revoke_key(name)
    err.print(f"revoked {name}")


@history_app.command("import")
def history_import(
    files: Annotated[list[Path], typer.Argument(help="Export files: JSONL tickets, Zendesk JSON/JSONL, CSV "
                                                     "with one row per message.")],
    kb: Annotated[Path, typer.Option("--kb", help="Index folder of the KB the tickets were answered from; its "
                                                  "next snapshot is built from what is learned.")],
    taxonomy: TaxonomyOption = None,
    fmt: Annotated[str, typer.Option("--format", help="auto, jsonl, zendesk or csv.")] = "auto",
    mapping: Annotated[Path | None, typer.Option("--map", help="YAML file naming the export's fields.")] = None,
) -> None:
    """Read past tickets (redacted), learn which FAQ entry answered each and the agents' tags, then rebuild the
    KB with it. Importing again adds only what is new; a killed import resumes."""
    from triage.helpdesk.importer import import_history

    settings = get_settings()
    store = Store.open(settings.store_url)
    try:
        with clean_errors(), progress_bars("tickets", "embedding", "calibrating (folds)") as bars:
            report = import_history(settings, store, kb, files, fmt, mapping, taxonomy,  # type: ignore[arg-type]
                                    progress=bars[0], build_progress=bars[1], calibration_progress=bars[2])
    finally:
        store.close()
    for bad in report.bad[:BATCH_PROBLEMS_SHOWN]:
        err.print(f"{bad.origin}: {bad.problem}", highlight=False, markup=False)
    if len(report.bad) > BATCH_PROBLEMS_SHOWN:
        err.print(f"… and {len(report.bad) - BATCH_PROBLEMS_SHOWN} more bad rows (skipped)")
    err.print(f"read {report.read} tickets: {report.added} new, {report.updated} changed, {report.unchanged} "
              f"already imported; {len(report.bad)} bad rows skipped")
    total = sum(report.kinds.values()) or 1
    sure = {k: f" (top search hit agrees {v:.0%})" for k, v in report.agreement.items()}
    err.print("answered: " + ", ".join(f"{k} {n} ({n / total:.0%}){sure.get(k, '')}" for k, n in report.kinds.items()),
              highlight=False)
    threshold = report.paraphrase_threshold
    err.print("paraphrases: " + (f"a reply closer than {threshold:.3f} to an entry's answer says it (chosen on the "
                                 "linked and pasted replies)" if threshold is not None else
                                 "too few linked or pasted replies to tell a paraphrase: counted as by hand"),
              highlight=False)
    err.print("tags: " + ", ".join(f"{k} {n}" for k, n in sorted(report.tags.items())), highlight=False)
    if report.build is not None:
        err.print(f"built {report.build.path}: {report.build.chunks} units ({report.build.embedded} embedded)")
    err.print(calibration_line(report.calibration), highlight=False)


@history_app.command("learned")
def history_learned(
    kb: Annotated[Path, typer.Option("--kb", help="Index folder of the KB.")],
    entry: Annotated[str | None, typer.Option("--entry", help="Only this FAQ entry's phrasings.")] = None,
    remove: Annotated[list[int] | None, typer.Option(
        "--remove", help="Take this learned example out (by id; repeatable); the next build leaves it out.")] = None,
) -> None:
    """List what was learned from past tickets (JSONL: id, ticket, entry, how, tag, text), or remove some."""
    from triage.helpdesk.learned import learned_scope

    settings = get_settings()
    store = Store.open(settings.store_url)
    scope = learned_scope(settings, kb)
    try:
        with clean_errors():
            for example_id in remove or []:
                store.remove_learned(scope, example_id, "cli")
                err.print(f"removed {example_id}: rebuild the KB (`triage kb build`) for it to take effect")
            if remove:
                return
            for row in store.learned_examples(scope, entry_id=entry):
                out.print(json.dumps({"id": row.id, "ticket": row.ref, "entry": row.entry_id, "how": row.how,
                                      "tag": row.tag, "tag_how": row.tag_how, "text": row.text},
                                     ensure_ascii=False), highlight=False, markup=False)
    finally:
        store.close()


def main() -> None:
    app(sys.argv[1:])


if __name__ == "__main__":
    main()
