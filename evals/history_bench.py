"""``triage bench --parts history``: ``triage history import`` at helpdesk scale.

The issue: "Reads stream, embedding is batched at ≥ 0.9× the encoder's batched throughput on this machine, and
memory stays bounded whatever the export's size. Benchmark a synthetic export of 1M tickets (read, redact, embed,
match): tickets per second, peak RSS, and the time on N workers it implies."

``write_export(path, n)`` writes a synthetic export of ``n`` tickets in the shape of
``knowledge/samples/telecom/history/tickets.jsonl``, one line at a time (nothing but the sample's 320 tickets is
held in memory, whatever ``n``). Each ticket recombines the sample: a sample ticket's structure, tags, channel,
status and agents' replies (their links and pasted answers kept, so matching finds what it finds on the sample),
its customer messages with fresh personal data in place of the sample's, an opener, a detail with numbers, a
closer, sometimes a second question from another sample ticket or a line of personal data, an agent greeting
from a pool and sometimes the customer's name; new ticket and requester ids (a few requesters write twice),
times a minute apart. Deterministic for a seed.

``run_history_bench`` imports exports of each size into a fresh copy of a KB built from the telecom sample's
``faq.yaml`` and a fresh SQLite store, each size in a child process of its own (``python -m
evals.history_bench N``) so its peak RSS is its own, and times the real ``import_history`` with its parts
wrapped (nothing in the product is changed): reading, redaction, the encoder, the search of each question,
link/paste matching, the store. Every few batches, the batch's very texts are also encoded again by the bare
encoder (``encode_queries`` / ``encode_passages`` in batches of 256), alternately before and after the import's
own call, and that time is taken out of the import's: the encoder's throughput on the same texts, side by side
with the import, on the same (busy) machine. The final rebuild of the KB from what was learned is timed apart, and
only at the sizes up to ``rebuild_max`` (per ticket it costs twice the stream). Stub sizes run the same import with
random vectors in place of the encoder (no model loaded): its memory, and the time outside the encoder, at sizes
the real encoder would take hours on. Peak RSS is each child's ``VmHWM``.

Reproduce: ``triage bench --parts history`` (sizes: ``--history-sizes``, ``--history-stub-sizes``,
``--history-rebuild-max``).
"""

from __future__ import annotations

import json
import random
import re
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from knowledge.samples import SAMPLES_DIR

SAMPLE = SAMPLES_DIR / "telecom" / "history" / "tickets.jsonl"
SEED = 20260
START = datetime.fromisoformat("2025-01-01T00:00:00+09:00")
STEP_SECONDS = 60  # between tickets: a million tickets span about two years
REPEAT_SHARE = 0.05  # of the tickets: from a requester seen shortly before
SECOND_QUESTION_SHARE = 0.15  # of first messages: another sample ticket's question added
PII_LINE_SHARE = 0.2  # of first messages: a line of personal data added
DETAIL_SHARE = 0.6  # of first messages: a detail with numbers (dates, amounts: not personal data)
NAME_SHARE = 0.3  # of agents' replies: the customer's name with 고객님
GREETING_SHARE = 0.5  # of agents' replies opening with a greeting line: another greeting

OPENERS_KO = ("", "", "", "안녕하세요 ", "안녕하세요. ", "수고 많으십니다 ", "문의 드립니다 ", "저기요 ", "급해요 ",
              "질문 있어요 ", "상담원님 ", "여쭤볼게 있는데요 ")
CLOSERS_KO = ("", "", "", " 감사합니다", " 확인 부탁드려요", " 빨리 답 주세요", " ㅠㅠ", " 고맙습니다~",
              " 답변 기다릴게요",
              " 부탁드립니다.", " 왜 이런가요?")
DETAILS_KO = ("어제 {h}시쯤부터 그래요.", "{m}월 {d}일에 신청했어요.", "이번 달 요금이 {won}원 나왔어요.",
              "벌써 {n}일째예요.", "가입한 지 {n}개월 됐어요.", "아까 {h}시 {mi}분에 해 봤어요.",
              "지난달에는 {won}원이었는데요.", "{n}번이나 해 봤는데 안 돼요.")
OPENERS_EN = ("", "", "Hi, ", "Hello, ", "Hi there. ", "Quick question: ")
CLOSERS_EN = ("", "", " Thanks.", " Thank you!", " Please help.", " Please reply soon.")
DETAILS_EN = ("It started yesterday around {h} o'clock.", "I applied on {m}/{d}.", "My bill this month was {won} won.",
              "It has been {n} days.", "I tried {n} times.")
PII_KO = ("연락은 {phone}로 주세요", "이메일 {email} 로 답 주세요", "자동이체 계좌 {bank} {account}",
          "카드번호 {card} 로 결제했어요", "주소는 {city} {road} 입니다", "명의자 {name} {phone}")
PII_EN = ("Call me at {phone}.", "My email is {email}.", "Card {card} was charged.")
GREETINGS = ("안녕하세요 고객님, 바다모바일이에요.", "안녕하세요! 바다모바일 고객센터입니다.",
             "고객님 안녕하세요. 문의 주셔서 감사합니다.",
             "안녕하세요, 바다모바일 상담원입니다.", "반갑습니다 고객님, 바다모바일이에요.")
SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN = "민서지현수영준호하은도윤우진예성경희태연"
MAIL_WORDS = ("sky", "blue", "sunny", "happy", "moon", "river", "star", "green", "ocean", "dream")
MAIL_DOMAINS = ("naver.com", "gmail.com", "daum.net", "kakao.com", "hanmail.net", "nate.com")
BANKS = ("국민", "신한", "우리은행", "하나은행", "농협", "기업은행", "카카오뱅크")
CITIES = ("서울 마포구", "서울 강남구", "부산 해운대구", "인천 남동구", "대구 수성구", "경기 성남시 분당구",
          "광주 서구")
ROADS = ("월드컵로", "테헤란로", "해운대로", "중앙대로", "올림픽로", "판교역로", "상무대로")

# the sample's personal data, found in one pass (a phone number also looks like an account number)
_PII = re.compile(r"(?P<card>(?<![0-9])[0-9]{4}([ -]?)[0-9]{4}\2[0-9]{4}\2[0-9]{4}(?![0-9]))"
                  r"|(?P<phone>(?<![0-9])01[016-9]-?[0-9]{3,4}-?[0-9]{4}(?![0-9]))"
                  r"|(?P<email>[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})"
                  r"|(?P<account>(?<![0-9])[0-9]{3}-[0-9]{2,6}-[0-9]{4,7}(?![0-9]))")
_HANGUL = re.compile(r"[가-힣]")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _card(rng: random.Random) -> str:
    """16 digits that pass the Luhn check (what a redactor takes for a card)."""
    body = [rng.choice((4, 5, 9))] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(body)):  # the check digit will sit right of these
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    digits = "".join(map(str, body)) + str((10 - total % 10) % 10)
    return "-".join(digits[i:i + 4] for i in range(0, 16, 4))


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)


def _values(rng: random.Random) -> dict[str, str]:
    return {"phone": f"010-{_digits(rng, 4)}-{_digits(rng, 4)}",
            "email": f"{rng.choice(MAIL_WORDS)}_{rng.choice(MAIL_WORDS)}{rng.randrange(10, 1000)}@"
                     f"{rng.choice(MAIL_DOMAINS)}",
            "card": _card(rng), "account": f"{_digits(rng, 3)}-{_digits(rng, 3)}-{_digits(rng, 6)}",
            "bank": rng.choice(BANKS), "city": rng.choice(CITIES),
            "road": f"{rng.choice(ROADS)} {rng.randrange(1, 400)}",
            "name": _name(rng), "h": str(rng.randrange(1, 13)), "mi": str(rng.randrange(0, 60)),
            "m": str(rng.randrange(1, 13)), "d": str(rng.randrange(1, 29)), "n": str(rng.randrange(2, 15)),
            "won": f"{rng.randrange(9, 120)},{rng.randrange(0, 1000):03d}"}


def _fresh_pii(text: str, v: dict[str, str]) -> str:
    """The sample's personal data replaced by this ticket's."""
    return _PII.sub(lambda m: v[str(m.lastgroup)], text)


def _customer(rng: random.Random, body: str, v: dict[str, str], first: bool, other: str) -> str:
    korean = bool(_HANGUL.search(body))
    openers, closers, details, pii = ((OPENERS_KO, CLOSERS_KO, DETAILS_KO, PII_KO) if korean
                                      else (OPENERS_EN, CLOSERS_EN, DETAILS_EN, PII_EN))
    text = _fresh_pii(body, v)
    if not first:
        return text + rng.choice(closers)
    parts = [rng.choice(openers) + text]
    if rng.random() < DETAIL_SHARE:
        parts.append(rng.choice(details).format(**v))
    if rng.random() < SECOND_QUESTION_SHARE and bool(_HANGUL.search(other)) == korean:
        parts.append(("그리고 " if korean else "Also, ") + _fresh_pii(other, v))
    if rng.random() < PII_LINE_SHARE:
        parts.append(rng.choice(pii).format(**v))
    return " ".join(parts) + rng.choice(closers)


def _agent(rng: random.Random, body: str, v: dict[str, str]) -> str:
    """The sample's reply, its links and pasted answers untouched: another greeting, the customer's name."""
    head, sep, rest = body.partition("\n")
    if sep and "안녕하세요" in head and rng.random() < GREETING_SHARE:
        body = rng.choice(GREETINGS) + sep + rest
    if "고객님" in body and rng.random() < NAME_SHARE:
        body = body.replace("고객님", f"{v['name']} 고객님", 1)
    return _fresh_pii(body, v)


def _load_sample(path: Path = SAMPLE) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def synthetic_tickets(n: int, seed: int = SEED, sample: Path = SAMPLE) -> Iterator[dict[str, Any]]:
    """``n`` tickets recombined from the sample (see the module), one at a time."""
    templates = _load_sample(sample)
    firsts = [next(c["body"] for c in t["comments"] if c["author"] == "customer") for t in templates]
    rng = random.Random(seed)
    recent: deque[str] = deque(maxlen=500)  # requesters who may write again
    for i in range(n):
        t = rng.choice(templates)
        v = _values(rng)
        created = START + timedelta(seconds=i * STEP_SECONDS + rng.randrange(STEP_SECONDS))
        t0 = datetime.fromisoformat(t["created_at"])
        if recent and rng.random() < REPEAT_SHARE:
            requester = rng.choice(recent)
        else:
            requester = f"C{rng.randrange(10**8):08d}"
            recent.append(requester)
        comments, seen_first = [], False
        for c in t["comments"]:
            if c["author"] == "customer":
                body = _customer(rng, c["body"], v, not seen_first, rng.choice(firsts))
                seen_first = True
            else:
                body = _agent(rng, c["body"], v)
            at = created + (datetime.fromisoformat(c["created_at"]) - t0)
            comments.append({"author": c["author"], "created_at": at.isoformat(), "body": body})
        yield {"ticket_id": f"H-{i + 1:07d}", "created_at": created.isoformat(), "channel": t["channel"],
               "subject": t["subject"], "requester": {"id": requester, "segment": t["requester"]["segment"]},
               "tags": list(t["tags"]), "status": t["status"], "comments": comments}


def write_export(path: Path, n: int, seed: int = SEED) -> Path:
    """Write ``n`` synthetic tickets to ``path`` as JSONL, streaming (see the module)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for ticket in synthetic_tickets(n, seed):
            f.write(json.dumps(ticket, ensure_ascii=False) + "\n")
    return path


# ---------------------------------------------------------------- the benchmark (one size per child process)

RAW_BATCH = 256  # the bare encoder's batches, as the import's (``importer.BATCH``)
SAMPLES_PER_SIZE = 3  # batches per size whose texts the bare encoder encodes again, side by side
FAQ = SAMPLES_DIR / "telecom" / "faq.yaml"
TAXONOMY = SAMPLES_DIR / "telecom" / "taxonomy.yaml"
STREAM_PARTS = ("read", "redact", "encode", "search", "match_rest", "store", "other")


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    """This process's peak RSS: ``VmHWM``, its memory map's high-water mark. (``getrusage``'s ``ru_maxrss`` keeps,
    across ``exec``, the RSS the parent had when it forked the child: a parent holding the encoder would show as
    every child's floor.)"""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class _Clock:
    """Seconds and counts per (phase, part), and the side-by-side encoder samples."""

    def __init__(self) -> None:
        import time

        self.now = time.perf_counter
        self.phase = "setup"
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.excluded = 0.0  # seconds of bare-encoder runs inside the import's calls: not the import's
        self.marks: dict[str, float] = {}
        self.peaks: dict[str, float] = {}
        self.batches: list[dict[str, float]] = []
        self.samples: list[dict[str, Any]] = []

    def add(self, part: str, seconds: float, count: int = 1) -> None:
        key = f"{self.phase}:{part}"
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds
        self.counts[key] = self.counts.get(key, 0) + count

    def enter(self, phase: str) -> None:
        self.marks[phase] = self.now()
        self.peaks[f"before_{phase}"] = round(_peak_mb(), 1)
        self.phase = phase


class _TimedEmbedder:
    """The encoder as the import calls it, timed; in the stream, every ``every``-th batch's texts are encoded
    again by the bare encoder in batches of ``RAW_BATCH`` (before the import's call or after it, in turn)."""

    def __init__(self, real: Any, clock: _Clock, every: int, raw: bool) -> None:
        self.real, self.clock, self.every, self.raw = real, clock, every, raw
        self.name, self.dim = real.name, real.dim
        self._batch = -1
        self._sample: dict[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def _bare(self, kind: str, texts: list[str]) -> float:
        encode = getattr(self.real, f"encode_{kind}")
        started = self.clock.now()
        for i in range(0, len(texts), RAW_BATCH):
            encode(texts[i:i + RAW_BATCH])
        seconds = self.clock.now() - started
        self.clock.excluded += seconds
        return seconds

    def _encode(self, kind: str, texts: list[str]) -> Any:
        clock = self.clock
        if clock.phase == "stream" and kind == "queries":  # a batch's questions come first (EntryMatcher.match)
            self._batch += 1
            self._sample = ({"batch": self._batch, "raw_first": len(clock.samples) % 2 == 0, "texts": 0,
                             "import_s": 0.0, "raw_s": 0.0, "queries": 0, "import_queries_s": 0.0,
                             "raw_queries_s": 0.0, "passages": 0, "import_passages_s": 0.0, "raw_passages_s": 0.0}
                            if self.raw and self._batch % self.every == 0 else None)
            if self._sample is not None:
                clock.samples.append(self._sample)
        sample = self._sample if clock.phase == "stream" else None
        raw_s = self._bare(kind, texts) if sample is not None and sample["raw_first"] else 0.0
        started = clock.now()
        out = getattr(self.real, f"encode_{kind}")(texts)
        seconds = clock.now() - started
        if sample is not None and not sample["raw_first"]:
            raw_s = self._bare(kind, texts)
        clock.add(f"encode_{kind}", seconds, len(texts))
        clock.add(f"encode_{kind}_calls", 0.0, 1)
        if sample is not None:
            for suffix in ("", f"_{kind}"):
                sample["texts" if not suffix else kind] += len(texts)
                sample[f"import{suffix}_s"] += seconds
                sample[f"raw{suffix}_s"] += raw_s
        return out

    def encode_queries(self, texts: list[str]) -> Any:
        return self._encode("queries", texts)

    def encode_passages(self, texts: list[str]) -> Any:
        return self._encode("passages", texts)


class _StubEmbedder:
    """Random unit vectors under the real encoder's name: the import without the encoder, for memory and the
    time outside it at sizes the real encoder would take hours on."""

    def __init__(self, name: str, dim: int) -> None:
        import numpy as np

        self.name, self.dim = name, dim
        self._rng = np.random.default_rng(7)

    def encode_queries(self, texts: list[str]) -> Any:
        import numpy as np

        v = self._rng.normal(size=(len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    encode_passages = encode_queries


def _instrument(clock: _Clock, embedder: _TimedEmbedder, store: Any, rebuild: bool) -> None:
    """Wrap the parts ``import_history`` calls (in this process only; the product's code is unchanged)."""
    from triage import kb as kb_module
    from triage.helpdesk import importer

    def timed(part: str, fn: Any, phase: str | None = None) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if phase:
                clock.enter(phase)
            started = clock.now()
            try:
                return fn(*args, **kwargs)
            finally:
                clock.add(part, clock.now() - started)
        return wrapper

    real_read = importer.read_export

    def read_export(*args: Any, **kwargs: Any) -> Iterator[Any]:
        clock.enter("stream")
        rows = real_read(*args, **kwargs)
        while True:
            started = clock.now()
            row = next(rows, None)
            clock.add("read", clock.now() - started)
            if row is None:
                return
            yield row

    class Searcher(importer.Searcher):
        search = timed("search", importer.Searcher.search)

    class EntryMatcher(importer.EntryMatcher):
        match = timed("match", importer.EntryMatcher.match)

    importer.embedder_for = lambda settings: embedder
    kb_module.embedder_for = lambda settings: embedder
    importer.read_export = read_export
    importer.redact_text = timed("redact", importer.redact_text)
    importer.Searcher = Searcher  # type: ignore[misc]
    importer.EntryMatcher = EntryMatcher  # type: ignore[misc]
    importer._summarise = timed("summarise", importer._summarise, "summarise")
    importer.learned_set = timed("learned_set", importer.learned_set, "learned_set")
    importer.build_kb = (timed("rebuild", importer.build_kb, "rebuild") if rebuild
                         else timed("rebuild", lambda *a, **k: None, "rebuild"))
    from knowledge.classifier import EntryClassifier

    train = EntryClassifier.__dict__["train"].__func__
    EntryClassifier.train = classmethod(timed("classifier", train))  # type: ignore[method-assign, assignment]
    store.learned_digests = timed("store", store.learned_digests)
    store.save_learned = timed("store", store.save_learned)


def bench_one(n: int, base_kb: Path, seed: int = SEED, stub: bool = False, rebuild: bool = True,
              samples: int = SAMPLES_PER_SIZE) -> dict[str, Any]:
    """Import a synthetic export of ``n`` tickets into a copy of ``base_kb`` and a fresh SQLite store, with every
    part timed (see the module). Meant to run alone in its process: RSS peaks are the process's."""
    import shutil
    import tempfile

    from knowledge.index import resolve
    from knowledge.lexical import tokenize
    from triage.config import get_settings
    from triage.helpdesk import importer
    from triage.kb import embedder_for
    from triage.store import Store

    clock = _Clock()
    with tempfile.TemporaryDirectory(prefix="history-bench-") as tmp:
        root = Path(tmp)
        started = clock.now()
        export = write_export(root / "export.jsonl", n, seed)
        generated_s = clock.now() - started
        kb = root / "kb"
        shutil.copytree(base_kb, kb, symlinks=True)
        settings = get_settings().model_copy(update={
            "kb_dir": kb, "var_dir": root / "var", "taxonomy": TAXONOMY,
            "database_url": f"sqlite:///{(root / 'store.db').as_posix()}"})
        started = clock.now()
        if stub:  # no encoder loaded: the import's memory without the model's
            built = json.loads((resolve(kb) / "manifest.json").read_text(encoding="utf-8"))["embedder"]
            inner: Any = _StubEmbedder(built["name"], int(built["dim"]))
        else:
            inner = embedder_for(settings)
            inner.encode_queries(["워밍업 문장입니다"])  # start-up costs paid once per process: not the import's
            inner.encode_passages(["워밍업 문장입니다"])
        tokenize(["워밍업 문장입니다"])
        startup_s = clock.now() - started
        batches = -(-n // importer.BATCH)
        every = max(1, -(-batches // samples))
        embedder = _TimedEmbedder(inner, clock, every, not stub)
        store = Store.open(settings.store_url)
        _instrument(clock, embedder, store, rebuild=rebuild and not stub)
        peak_before = _peak_mb()

        def progress(read: int, _: int) -> None:
            clock.batches.append({"read": read, "t": clock.now() - clock.marks["stream"] - clock.excluded,
                                  "rss_mb": round(_rss_mb(), 1),
                                  **{f"s_{k}": clock.seconds.get(f"stream:{k}", 0.0) for k in HALVES_PARTS}})

        clock.marks["import"] = clock.now()
        try:
            report = importer.import_history(settings, store, kb, [export], taxonomy=TAXONOMY, progress=progress)
        finally:
            store.close()
        ended = clock.now()
        started = clock.marks["import"]
        sizes = {"export_bytes": export.stat().st_size,
                 "store_bytes": sum(p.stat().st_size for p in root.glob("store.db*"))}
    return _figures(n, clock, report, stub, ended - started, generated_s, startup_s, peak_before, sizes,
                    rebuild and not stub)


def _slope_mb_per_1000(batches: list[dict[str, float]]) -> float | None:
    """RSS growth per 1,000 tickets read over the stream's second half (least squares; None: too few batches)."""
    half = batches[len(batches) // 2:]
    if len(half) < 3:
        return None
    xs, ys = [b["read"] for b in half], [b["rss_mb"] for b in half]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return round(1000 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var, 2) if var else None


HALVES_PARTS = ("read", "redact", "search", "match", "store")


def _halves(batches: list[dict[str, float]]) -> dict[str, list[float]] | None:
    """Tickets/s over the stream's first and second half, and ms a ticket of its parts (``match`` with the
    encoder's calls in it): a cost that grows with what is stored shows here."""
    if len(batches) < 4:
        return None
    mid, last = batches[len(batches) // 2 - 1], batches[-1]
    first_n, second_n = mid["read"], last["read"] - mid["read"]
    out = {"tickets_per_s": [round(first_n / mid["t"], 2), round(second_n / (last["t"] - mid["t"]), 2)]}
    for part in HALVES_PARTS:
        before, total = mid[f"s_{part}"], last[f"s_{part}"]
        out[f"{part}_ms"] = [round(1000 * before / first_n, 3), round(1000 * (total - before) / second_n, 3)]
    return out


def _figures(n: int, clock: _Clock, report: Any, stub: bool, total_s: float, generated_s: float, startup_s: float,
             peak_before: float, sizes: dict[str, int], rebuilt: bool) -> dict[str, Any]:
    import statistics

    sec, cnt, marks = clock.seconds, clock.counts, clock.marks
    stream = marks["summarise"] - marks["stream"] - clock.excluded
    setup = marks["stream"] - marks["import"]
    summarise = marks["learned_set"] - marks["summarise"]
    learned = marks["rebuild"] - marks["learned_set"]
    rebuild = sec.get("rebuild:rebuild", 0.0)
    encode = sec.get("stream:encode_queries", 0.0) + sec.get("stream:encode_passages", 0.0)
    search = sec.get("stream:search", 0.0)
    parts = {"read": sec.get("stream:read", 0.0), "redact": sec.get("stream:redact", 0.0), "encode": encode,
             "search": search, "match_rest": sec.get("stream:match", 0.0) - encode - search - clock.excluded,
             "store": sec.get("stream:store", 0.0)}
    parts["other"] = stream - sum(parts.values())
    queries, passages = cnt.get("stream:encode_queries", 0), cnt.get("stream:encode_passages", 0)
    texts = queries + passages
    out: dict[str, Any] = {
        "tickets": n, "stub_encoder": stub, "batches": len(clock.batches),
        "export_mb": round(sizes["export_bytes"] / 2**20, 1), "generated_per_s": round(n / generated_s),
        "startup_s": round(startup_s, 1),
        "seconds": {"setup": round(setup, 1), "stream": round(stream, 1), "summarise": round(summarise, 1),
                    "learned_set": round(learned, 1), "rebuild": round(rebuild, 1),
                    "total_without_bare_encoder": round(total_s - clock.excluded, 1)},
        "stream_tickets_per_s": round(n / stream, 2),
        "import_tickets_per_s": round(n / (setup + stream + summarise + learned), 2),  # without the rebuild
        "stream_parts_s": {k: round(v, 2) for k, v in parts.items()},
        "stream_shares": {k: round(v / stream, 4) for k, v in parts.items()},
        "outside_encoder_share": round(1 - encode / stream, 4),
        "texts": {"queries": queries, "passages": passages, "per_ticket": round(texts / n, 3),
                  "encode_calls": {k: cnt.get(f"stream:encode_{k}_calls", 0) for k in ("queries", "passages")}},
        "store_bytes_per_ticket": round(sizes["store_bytes"] / n),
        "rss_mb": {"after_startup": round(peak_before, 1), "peak_stream": clock.peaks.get("before_summarise"),
                   "peak_summarise": clock.peaks.get("before_learned_set"),
                   "peak_learned_set": clock.peaks.get("before_rebuild"), "peak_total": round(_peak_mb(), 1),
                   "first_batch": clock.batches[0]["rss_mb"] if clock.batches else None,
                   "last_batch": clock.batches[-1]["rss_mb"] if clock.batches else None,
                   "growth_mb_per_1000_tickets": _slope_mb_per_1000(clock.batches)},
        "stream_halves": _halves(clock.batches),
        "rss_by_batch": [[b["read"], b["rss_mb"]] for b in clock.batches],
        "import": {"read": report.read, "added": report.added, "bad": len(report.bad), "kinds": report.kinds,
                   "tags": report.tags},
    }
    if not stub:
        samples = [s for s in clock.samples if s["raw_s"] > 0]
        raw_tps = sum(s["texts"] for s in samples) / sum(s["raw_s"] for s in samples)
        import_tps = texts / encode
        out["encoder"] = {
            "samples": [{k: round(v, 3) if isinstance(v, float) else v for k, v in s.items()} for s in samples],
            "bare_texts_per_s": round(raw_tps, 2),
            "import_encoder_texts_per_s": round(import_tps, 2),
            "import_texts_per_s": round(texts / stream, 2),
            # on the same texts, in the same batches: the import's own encoder calls against the bare encoder's
            "in_encoder_ratio": round(statistics.median(s["raw_s"] / s["import_s"] for s in samples), 3),
            # the whole stream (read, redact, encode, search, match, store) against the bare encoder
            "end_to_end_ratio": round(texts / stream / raw_tps, 3),
            "bare_tickets_per_s": round(raw_tps / (texts / n), 2),  # the import's ceiling if it only encoded
        }
    if rebuilt:
        out["rebuild"] = {"texts_embedded": cnt.get("rebuild:encode_queries", 0) + cnt.get("rebuild:encode_passages",
                                                                                            0),
                          "encoder_s": round(sec.get("rebuild:encode_queries", 0.0)
                                             + sec.get("rebuild:encode_passages", 0.0), 1),
                          "classifier_fits": cnt.get("rebuild:classifier", 0),
                          "classifier_s": round(sec.get("rebuild:classifier", 0.0), 1),
                          "units": report.build.chunks if report.build else None}
    return out


# ---------------------------------------------------------------- all sizes, the report

SIZES = (256, 1024)
REBUILD_MAX = 256  # the rebuild costs more than the stream per ticket: run it at the sizes up to this one
STUB_SIZES = (20000,)
MILLION = 1_000_000
WORKERS = (1, 4, 16, 64)


def _child(n: int, base_kb: Path, seed: int, stub: bool, rebuild: bool) -> dict[str, Any]:
    import subprocess
    import sys

    args = [sys.executable, "-m", "evals.history_bench", str(n), str(base_kb), str(seed)]
    args += (["--stub"] if stub else []) + ([] if rebuild else ["--no-rebuild"])
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"history bench at {n} tickets failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def implied(runs: list[dict[str, Any]], tickets: int = MILLION, workers: tuple[int, ...] = WORKERS) -> dict[str, Any]:
    """The time ``tickets`` would take, from the measured rates (the assumptions are in ``history_markdown``)."""
    real = sorted((r for r in runs if not r["stub_encoder"]), key=lambda r: r["tickets"])
    big = real[-1]
    largest = max(runs, key=lambda r: r["tickets"])  # the summary and the learned set do not use the encoder
    stream = big["seconds"]["stream"] / big["tickets"]
    store = largest["stream_parts_s"]["store"] / largest["tickets"]  # one SQLite writer
    after = (largest["seconds"]["summarise"] + largest["seconds"]["learned_set"]) / largest["tickets"]
    hours = 3600.0
    stream_h = {w: round(tickets * max(stream / w, store) / hours, 2) for w in workers}
    out: dict[str, Any] = {
        "tickets": tickets, "from_size": big["tickets"], "stream_s_per_ticket": round(stream, 4),
        "store_s_per_ticket": round(store, 5), "after_s_per_ticket": round(after, 6), "after_from": largest["tickets"],
        "stream_h_one_process": stream_h[1], "stream_h_by_workers": stream_h,
        "summarise_h": round(tickets * after / hours, 2)}
    rebuilt = [r for r in real if "rebuild" in r]
    if rebuilt:
        r = rebuilt[-1]
        per = r["seconds"]["rebuild"] / r["tickets"]
        texts = r["rebuild"]["texts_embedded"] / r["tickets"]
        out.update({"rebuild_from": r["tickets"], "rebuild_s_per_ticket": round(per, 4),
                    "rebuild_classifier_fits": r["rebuild"]["classifier_fits"],
                    "rebuild_classifier_share": round(r["rebuild"]["classifier_s"] / r["seconds"]["rebuild"], 3),
                    "rebuild_texts_per_ticket": round(texts, 3),
                    "rebuild_linear_h": round(tickets * per / hours, 1),
                    "rebuild_encoder_floor_h": round(tickets * texts / big["encoder"]["bare_texts_per_s"] / hours, 1)})
        once = big["seconds"]["setup"] + tickets * after
        out["floor_h_by_workers"] = {w: round(h + (once + tickets * texts / big["encoder"]["bare_texts_per_s"])
                                              / hours, 1) for w, h in stream_h.items()}
        out["total_h_by_workers"] = {w: round(h + (once + tickets * per) / hours, 1) for w, h in stream_h.items()}
    return out


def run_history_bench(settings: Any, sizes: tuple[int, ...] = SIZES, stub_sizes: tuple[int, ...] = STUB_SIZES,
                      out_dir: Path = Path("evals/results"), log: Any = print, seed: int = SEED,
                      rebuild_max: int = REBUILD_MAX) -> str:
    """Each size in a child process of its own (real encoder; the KB rebuilt after the import up to
    ``rebuild_max`` tickets), then each stub size (no encoder, no rebuild); writes ``history-bench.{json,md}`` in
    ``out_dir`` and returns the markdown."""
    import os
    import tempfile
    import time

    from evals.runner import write_report
    from triage.kb import build_kb

    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="history-bench-kb-") as tmp:
        base = Path(tmp) / "kb"
        log(f"history: building the telecom FAQ's KB ({FAQ.name})")
        build_kb(settings.model_copy(update={"kb_dir": base, "var_dir": Path(tmp) / "var", "taxonomy": TAXONOMY}),
                 base, [FAQ])
        for n, stub in [(n, False) for n in sizes] + [(n, True) for n in stub_sizes]:
            log(f"history: importing {n} synthetic tickets" + (" (encoder stubbed)" if stub else ""))
            runs.append(_child(n, base, seed, stub, n <= rebuild_max))
            r = runs[-1]
            ratio = f", end-to-end / bare encoder {r['encoder']['end_to_end_ratio']}" if "encoder" in r else ""
            log(f"  {r['stream_tickets_per_s']} tickets/s in the stream{ratio}; peak RSS stream "
                f"{r['rss_mb']['peak_stream']} MB, total {r['rss_mb']['peak_total']} MB")
    real = [r for r in runs if not r["stub_encoder"]]
    report = {"machine": {"cpus": os.cpu_count(), "load_avg_1m_at_end": round(os.getloadavg()[0], 2)},
              "threads": settings.embed_threads, "batch": 256, "seed": seed, "runs": runs,
              "implied": implied(runs) if real else None,
              "bench_seconds": round(time.perf_counter() - started)}
    text = history_markdown(report)
    write_report(out_dir, "history-bench", report, text)
    return text


def history_markdown(r: dict[str, Any]) -> str:
    real = [x for x in r["runs"] if not x["stub_encoder"]]
    stubs = [x for x in r["runs"] if x["stub_encoder"]]
    lines = ["# History import at helpdesk scale", "",
             f"`triage history import` (`triage/helpdesk/importer.py`, batches of {r['batch']}) on synthetic exports "
             "recombined from the telecom sample's tickets (`evals/history_bench.py`, seed "
             f"{r['seed']}), into a copy of a KB built from `knowledge/samples/telecom/faq.yaml` and a fresh SQLite "
             f"store, each size in its own process. Machine: {r['machine']['cpus']} CPUs, encoder threads "
             f"{r['threads']}, shared with other jobs (1-minute load {r['machine']['load_avg_1m_at_end']} at the end). "
             f"One run, {r['bench_seconds']} s.", "",
             "The stream is the import's loop: read, redact, embed (one `encode_queries` call for the batch's first "
             "messages and one `encode_passages` for its agents' replies), search each question, read links and "
             "pastes, one store transaction per batch. Setup (loading the KB, embedding its answers), the summary "
             "and the learned set after the loop, and the rebuild of the KB are timed apart. The bare encoder is "
             "`encode_queries` + `encode_passages` in batches of 256 on the very texts of every few of the import's "
             "batches, run right before or right after the import's own call (in turn) and taken out of the "
             "import's time: side by side, on the same texts, under the same load."]
    if real:
        lines += ["", "## Throughput", "",
                  "| tickets | stream tickets/s | import tickets/s (no rebuild) | texts/ticket | "
                  "bare encoder texts/s | "
                  "import texts/s (encoder calls only) | import texts/s (whole stream) | in-encoder ratio | "
                  "**end-to-end ratio** | outside the encoder |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for x in real:
            e = x["encoder"]
            lines.append(f"| {x['tickets']} | {x['stream_tickets_per_s']} | {x['import_tickets_per_s']} | "
                         f"{x['texts']['per_ticket']} | {e['bare_texts_per_s']} | {e['import_encoder_texts_per_s']} | "
                         f"{e['import_texts_per_s']} | {e['in_encoder_ratio']} | **{e['end_to_end_ratio']}** | "
                         f"{x['outside_encoder_share']:.1%} |")
        lines += ["", "In-encoder ratio: the bare encoder's time over the import's own encoder calls on the same texts "
                  "(median over the sampled batches): whether the import feeds the encoder batches as good as "
                  "batches of 256. End-to-end ratio: texts embedded per second of the whole stream over the bare "
                  "encoder's texts/s: the issue's \"≥ 0.9×\" for the import as a whole."]
    runs = real + stubs
    lines += ["", "## Where the stream's time goes", "",
              "| tickets | encoder | " + " | ".join(p for p in STREAM_PARTS if p != "encode") + " | setup s | "
              "summary + learned set s | rebuild s |",
              "|---|---|" + "---|" * (len(STREAM_PARTS) - 1) + "---|---|---|"]
    for x in runs:
        sh = x["stream_shares"]
        rebuild = (f"{x['seconds']['rebuild']} ({x['rebuild']['texts_embedded']} texts, encoder "
                   f"{x['rebuild']['encoder_s']} s, classifier {x['rebuild']['classifier_fits']} fits "
                   f"{x['rebuild']['classifier_s']} s)" if "rebuild" in x else "not run")
        label = f"{x['tickets']}" + (" (stub encoder)" if x["stub_encoder"] else "")
        lines.append(f"| {label} | {sh['encode']:.1%} | " + " | ".join(f"{sh[p]:.1%}" for p in STREAM_PARTS
                                                                        if p != "encode")
                     + f" | {x['seconds']['setup']} | "
                     f"{round(x['seconds']['summarise'] + x['seconds']['learned_set'], 1)}"
                     f" | {rebuild} |")
    lines += ["", "match_rest: reading links and pastes (character 4-grams against every answer) and the reply "
              "similarities; other: the loop itself (digests, conversations, rows)."]
    lines += ["", "## Memory (each size in its own process; the stub runs load no model)", "",
              "| tickets | after start-up MB | peak in the stream MB | RSS first → last batch MB | growth MB per "
              "1,000 tickets (2nd half) | stream tickets/s 1st → 2nd half | peak after summary + learned set MB | "
              "peak total MB | store bytes/ticket |",
              "|---|---|---|---|---|---|---|---|---|"]
    for x in runs:
        m = x["rss_mb"]
        label = f"{x['tickets']}" + (" (stub encoder)" if x["stub_encoder"] else "")
        halves = x["stream_halves"]
        halves = " → ".join(map(str, halves["tickets_per_s"])) if halves else "–"
        lines.append(f"| {label} | {m['after_startup']} | {m['peak_stream']} | {m['first_batch']} → {m['last_batch']} "
                     f"| {m['growth_mb_per_1000_tickets']} | {halves} | {m['peak_learned_set']} | "
                     f"{m['peak_total']} | {x['store_bytes_per_ticket']} |")
    lines += ["", "RSS at the end of each batch stays where it started; the peak in the stream is the encoder's "
              "buffers for one batch's call (the same at every size). The summary and the learned set after the "
              "loop hold every stored ticket at once:"]
    for x in stubs:
        m = x["rss_mb"]
        rise = m["peak_learned_set"] - m["peak_stream"]
        lines.append(f"at {x['tickets']} tickets (stub) their peak is {rise:.1f} MB above the stream's, "
                     f"{1024 * rise / x['tickets']:.1f} KB a ticket ({rise / x['tickets'] * MILLION / 1024:.1f} GB "
                     "at 1M if linear).")
    for x in stubs:
        if h := x["stream_halves"]:
            lines += ["", f"Stream at {x['tickets']} tickets (stub encoder), ms a ticket, first half → second half "
                      "(a cost growing with what is stored would show in store only; a busier machine shows in all): "
                      + ", ".join(f"{p} {h[f'{p}_ms'][0]} → {h[f'{p}_ms'][1]}" for p in HALVES_PARTS
                                  if p != "match") + "."]
    if imp := r.get("implied"):
        lines += ["", f"## Implied time for {imp['tickets']:,} tickets", "",
                  f"The stream, linear from the {imp['from_size']}-ticket run ({imp['stream_s_per_ticket']} s a "
                  "ticket). Workers: processes each with "
                  "its own encoder on its own 2 cores (this machine holds one), splitting the export, scaling "
                  "linearly; the store's writes stay one writer (SQLite, "
                  f"{imp['store_s_per_ticket'] * 1000:.2f} ms a ticket), so the stream cannot go below them. After "
                  "the stream, once, in one process: the summary and the learned set (linear from the "
                  f"{imp['after_from']}-ticket run, {imp['after_s_per_ticket'] * 1000:.2f} ms a ticket: "
                  f"{imp['summarise_h']} h)"]
        if "rebuild_from" in imp:
            lines[-1] += (f" and the rebuild, {imp['rebuild_s_per_ticket']} s a ticket at {imp['rebuild_from']} "
                          f"tickets: {imp['rebuild_linear_h']} h if it stayed linear, which it does not (the entry "
                          f"classifier, {imp['rebuild_classifier_share']:.0%} of it there, is trained "
                          f"{imp['rebuild_classifier_fits']} times on units that grow with the history, and skipped "
                          "above 10M units × entries); its floor is the encoder: it embeds "
                          f"{imp['rebuild_texts_per_ticket']} texts a ticket again, {imp['rebuild_encoder_floor_h']} h "
                          "at the bare encoder's rate.")
        else:
            lines[-1] += "; the rebuild was not run."
        outside = real[-1]["outside_encoder_share"]
        lines += ["", f"What workers (Ray or plain processes) would help: the encoder is {1 - outside:.1%} of the "
                  f"stream and the rest ({outside:.1%}: search, link/paste matching, redaction, reading) is per "
                  "ticket too, so splitting the export divides the stream but for the store's one writer. On one "
                  "machine they only share its cores: the encoder already runs on both of these two. They do "
                  "nothing for what follows the stream: the summary, the learned set and the rebuild run once, "
                  "in one process, and the rebuild embeds most questions again."]
        lines += ["", "| workers | stream h | + summary, learned set, rebuild at its encoder floor h | + summary, "
                  "learned set, rebuild linear h |", "|---|---|---|---|"]
        lines += [f"| {k} | {v} | {imp.get('floor_h_by_workers', {}).get(k, '–')} | "
                  f"{imp.get('total_h_by_workers', {}).get(k, '–')} |" for k, v in imp["stream_h_by_workers"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # one size, in its own process (see run_history_bench)
    import sys

    size, kb_folder, seed_arg = int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    flags = sys.argv[4:]
    print(json.dumps(bench_one(size, kb_folder, seed_arg, stub="--stub" in flags, rebuild="--no-rebuild" not in flags),
                     ensure_ascii=False))
