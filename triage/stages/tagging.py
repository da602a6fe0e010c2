"""The one-tag classifier over a taxonomy (``triage.taxonomy``).

Messages get a *leaf* tag, or the taxonomy's catch-all (``needs_review`` unless the file marks another) when
the classifier is unsure.

The classifier learns from every labeled text it is given: the taxonomy's descriptions and examples, the
KB's FAQ phrasings (by their ``tags``), an optional labeled file, and agents' stored corrections (see
``Tagger`` for how). A correction that arrives while the service runs applies at once to messages nearly
identical to the corrected one (no retraining step), and joins the training data at the next start.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.sources import write_text_atomic
from triage.errors import TaxonomyError
from triage.models import Reason
from triage.reasons import render
from triage.taxonomy import Priority, Taxonomy

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from knowledge.embedders import Embedder
    from knowledge.index import Snapshot

# Picked on the demo KB's calibration set (5-fold cross-validation, each fold trained on the taxonomy, the FAQ
# and the other folds); the dev set stays for reporting.
REGULARIZATION_C = 100.0  # C=1: 0.36, 10: 0.55, 100: 0.63 top-1 with vectors alone
MEMORY_WEIGHT = 0.5  # share of the nearest-neighbour vote in the meaning scores
MEMORY_NEIGHBOURS = 8
MEMORY_TEMPERATURE = 0.02  # cosine points: a neighbour 0.02 less similar than the nearest weighs 1/e as much
WORDING_WEIGHT = 0.5  # share of the character n-gram model
SITUATION_LEVELS = ("P1", "P2", "P4")
SITUATION_BOOST = 8.0  # 5-fold CV on the calibration set, decided accuracy: 1: 0.740, 2: 0.740, 4: 0.753, 8: 0.767
CORRECTION_MATCH = 0.9  # an agent's correction applies to messages at least this similar
CORRECTION_SHARE = 0.8  # ... and then carries this share of the scores
# A tag is given when the calibrated probability that it is right reaches the threshold that cross-validation on
# the taxonomy's own labeled texts chose (``calibrate_cutoffs``): the loosest one at which the tags given are
# TAG_TARGET_PRECISION right at their 90% lower bound. Otherwise the catch-all, with the candidates and their
# probabilities for the agent. The share sent to review follows; it is reported, never bought with weak tags.
TAG_TARGET_PRECISION = 0.85
TAG_REVIEW_WARNING = 0.3  # cross-validation sending more than this share to review: said in the build's warnings
# With too few labeled texts to calibrate (fewer than MIN_CUTOFF_ROWS), the raw score stands for the probability
# and these cut-offs apply.
FALLBACK_PROBABILITY = 0.5
MIN_GAP = 0.05
TAG_FOLDS = 5
MIN_CUTOFF_ROWS = 40
CANDIDATES = 3  # candidates calibrated and shown
# A candidate other than the top one counts only at this calibrated probability: a more urgent candidate then
# takes the tag (the most urgent issue of a message that raises several), and behind the catch-all it lends the
# message its base priority. Below it a weak P1 candidate makes nothing P1.
COMPETITOR_PROBABILITY = 0.3
URGENT_SHARE = 0.5  # ... and a more urgent candidate must also score at least this share of the top one


# ---------------------------------------------------------------- the classifier

@dataclass
class TagExample:
    text: str
    tag: str


def taxonomy_examples(taxonomy: Taxonomy) -> list[TagExample]:
    """Each leaf's examples, and its name with its description as one more labeled text."""
    examples = []
    for tag_id in taxonomy.leaves:
        tag = taxonomy.tags[tag_id]
        if tag.description:
            examples.append(TagExample(f"{tag.name}: {tag.description}", tag_id))
        examples += [TagExample(text, tag_id) for text in tag.examples]
    return examples


def faq_examples(taxonomy: Taxonomy, snapshot: Snapshot) -> tuple[list[TagExample], NDArray[np.float32]]:
    """The KB's FAQ phrasings labeled with their entry's first leaf tag, with their stored vectors."""
    leaves = set(taxonomy.leaves)
    examples, rows = [], []
    for row, chunk in enumerate(snapshot.chunks):
        entry = snapshot.entries.get(chunk.entry_id) if chunk.kind == "faq" else None
        tag = next((t for t in entry.tags if t in leaves), None) if entry else None
        if tag is not None:
            examples.append(TagExample(chunk.text, tag))
            rows.append(row)
    return examples, snapshot.vectors[rows] if rows else np.zeros((0, snapshot.vectors.shape[1]), np.float32)


@dataclass
class TagScores:
    """Leaf tags with their scores, best first (scores sum to 1)."""

    ranked: list[tuple[str, float]]
    corrected: bool = False  # an agent's correction of a near-identical message decided the top tag

    @property
    def top(self) -> tuple[str, float]:
        return self.ranked[0]


def _fit_logistic(x: Any, y: NDArray[np.int64]) -> Any:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(C=REGULARIZATION_C, max_iter=500).fit(x, y)


@dataclass
class Cutoffs:
    """When a tag is given rather than the catch-all, and what cross-validation said about it: the probability a
    candidate is the right tag is a logistic function of its score and its lead over the best other candidate
    (``weights``, ``bias``: Platt scaling fitted on the cross-validated candidates), and a tag needs
    ``min_probability``. Without a fit (``source="fallback"``) the raw score stands for the probability and the
    top must also lead by ``MIN_GAP``."""

    min_probability: float = FALLBACK_PROBABILITY
    weights: list[float] | None = None  # for (score, lead)
    bias: float = 0.0
    source: str = "fallback"  # "cross-validation", or "fallback" (too few labeled texts)
    precision: float | None = None  # cross-validated precision of the tags given at ``min_probability``
    meets_target: bool | None = None  # whether that precision reached the target at its lower bound
    review_share: float | None = None  # cross-validated share sent to the catch-all
    examples: int = 0

    def probability(self, score: float, lead: float) -> float:
        """The probability that a candidate with this score, leading the best other one by ``lead`` (negative
        when behind), is the right tag."""
        if self.weights is None:
            return score
        z = self.weights[0] * score + self.weights[1] * lead + self.bias
        return float(1.0 / (1.0 + np.exp(-max(-50.0, min(50.0, z)))))

    @property
    def warning(self) -> str | None:
        """What a CX lead should know about these cut-offs, or None."""
        if self.source == "fallback":
            return (f"only {self.examples} labeled texts cross-validated (at least {MIN_CUTOFF_ROWS} are needed): tags "
                    "are given by the raw score; add taxonomy examples, FAQ tags or a labeled file (--tag-labels)")
        if not self.meets_target:
            return (f"no cut-off makes the tags given {TAG_TARGET_PRECISION:.0%} right in cross-validation: most "
                    "messages go to review; add taxonomy examples or a labeled file (--tag-labels)")
        if self.review_share is not None and self.review_share > TAG_REVIEW_WARNING:
            return (f"{self.review_share:.0%} of the taxonomy's own examples went to review in cross-validation (tags "
                    f"given there were {self.precision:.0%} right): expect a large review share; more examples per "
                    "tag, or agents' corrections, lower it")
        return None

    def gives(self, probability: float, lead: float) -> bool:
        """Whether the top candidate, at this probability and lead, is given as the tag."""
        return probability >= self.min_probability and (self.weights is not None or lead >= MIN_GAP)


@dataclass(frozen=True)
class Candidate:
    tag: str
    score: float  # the tagger's score (the candidates' scores sum to at most 1)
    probability: float  # calibrated: the probability that it is the right tag


@dataclass
class TagDecision:
    tag: str
    confidence: float  # the tag's score (the catch-all's: the top candidate's)
    runners_up: list[Candidate]  # the candidates shown beside the tag (the top ones, behind a catch-all)
    why: Reason
    probability: float = 0.0  # calibrated probability that the tag is right (the catch-all's: the top candidate's)
    overridden: str | None = None  # the top-scoring tag a rule replaced (more urgent issue, or the catch-all)
    competing: list[str] = field(default_factory=list)  # candidates behind a catch-all strong enough to count
    # for its priority (``COMPETITOR_PROBABILITY``)

    @property
    def reason(self) -> str:
        """Why, in Korean (the result's ``tag_reason``)."""
        return render(self.why)


class Tagger:
    """Scores = half meaning (logistic regression on message vectors, mixed half and half with a
    nearest-neighbour vote of the labeled texts), half wording (logistic regression on character 2–4-grams,
    which catches the keywords a small multilingual encoder blurs in Korean). Measured on the demo KB's
    calibration set (taxonomy and FAQ examples only): vectors alone 0.60 → with the vote 0.65 → with the
    wording model 0.70 top-1 tag accuracy."""

    def __init__(self, taxonomy: Taxonomy, examples: Sequence[TagExample], vectors: NDArray[np.float32]) -> None:
        """Fit on labeled texts (one vector per example); tags without any example cannot be predicted."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        keep = [i for i, e in enumerate(examples) if e.tag in taxonomy.tags and e.tag != taxonomy.catch_all]
        examples, vectors = [examples[i] for i in keep], vectors[keep]
        self.taxonomy = taxonomy
        self.classes = sorted({e.tag for e in examples})
        if len(self.classes) < 2:
            raise TaxonomyError([f"{taxonomy.origin}: fewer than two tags have examples; add examples "
                                 "(or a labeled file) so the tags can be learned"])
        self.column = {c: i for i, c in enumerate(self.classes)}
        y = np.array([self.column[e.tag] for e in examples])
        self.meaning = _fit_logistic(vectors, y)
        self.memory, self.memory_tags = vectors.astype(np.float32), y
        self.wording_features = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
        self.wording = _fit_logistic(self.wording_features.fit_transform([e.text for e in examples]), y)
        dim = vectors.shape[1]
        self.corrections, self.correction_tags = np.zeros((0, dim), np.float32), np.zeros(0, np.int64)
        self.cutoffs = Cutoffs()

    def learn(self, vector: NDArray[np.float32], tag: str) -> None:
        """An agent's correction: the next prediction for this or a near-identical message follows it."""
        if tag not in self.column:
            raise TaxonomyError([f"'{tag}' cannot be learned: choose one of {', '.join(self.classes)}"])
        self.corrections = np.vstack([self.corrections, vector.reshape(1, -1).astype(np.float32)])
        self.correction_tags = np.append(self.correction_tags, self.column[tag])

    def scores(self, text: str, vector: NDArray[np.float32], situation: Priority | None = None) -> TagScores:
        """Tag scores for a message; ``situation`` (the level its wording calls for, see ``triage.stages.priority``)
        favours tags of that base priority, so "money gone" leans to the taxonomy's P1 tags."""
        meaning = (1 - MEMORY_WEIGHT) * self.meaning.predict_proba(vector.reshape(1, -1))[0]
        meaning += MEMORY_WEIGHT * self._neighbour_vote(vector)
        p = (1 - WORDING_WEIGHT) * meaning
        p += WORDING_WEIGHT * self.wording.predict_proba(self.wording_features.transform([text]))[0]
        if situation in SITUATION_LEVELS:
            p *= np.array([SITUATION_BOOST if self.taxonomy.priority(c) == situation else 1.0 for c in self.classes])
            p /= p.sum()
        corrected = False
        if len(self.corrections):
            sims = (self.corrections @ vector)[::-1]  # newest first: a later correction of the same text wins
            if corrected := bool(sims.max() >= CORRECTION_MATCH):
                p *= 1 - CORRECTION_SHARE
                p[self.correction_tags[len(sims) - 1 - int(sims.argmax())]] += CORRECTION_SHARE
        order = np.argsort(-p)
        return TagScores([(self.classes[i], float(p[i])) for i in order], corrected)

    def _neighbour_vote(self, vector: NDArray[np.float32]) -> NDArray[np.float64]:
        sims = self.memory @ vector
        k = min(MEMORY_NEIGHBOURS, len(sims))
        nearest = np.argpartition(-sims, k - 1)[:k]
        weights = np.exp((sims[nearest] - sims[nearest].max()) / MEMORY_TEMPERATURE)
        vote = np.zeros(len(self.classes))
        np.add.at(vote, self.memory_tags[nearest], weights)
        return vote / vote.sum()

    def candidates(self, scores: TagScores) -> list[Candidate]:
        """The best ``CANDIDATES`` tags with their calibrated probabilities."""
        return [Candidate(tag, p, self.cutoffs.probability(p, lead)) for tag, p, lead in leads(scores.ranked)]

    def decide(self, scores: TagScores) -> TagDecision:
        """One tag: the top candidate when its calibrated probability reaches the cut-off (or a more urgent
        candidate of some strength beside it: the most urgent issue), else the catch-all with the candidates."""
        tax = self.taxonomy
        candidates = self.candidates(scores)
        top, runners = candidates[0], candidates[1:]
        lead = top.score - (runners[0].score if runners else 0.0)
        if scores.corrected:  # an agent's label for this very message, not a guess
            return TagDecision(top.tag, round(top.score, 4), runners, Reason(code="tag.corrected", params={
                "tag": top.tag, "tag_name": tax.name(top.tag)}), probability=top.probability)
        if self.cutoffs.gives(top.probability, lead):
            urgent = [c for c in runners if c.probability >= COMPETITOR_PROBABILITY
                      and c.score >= URGENT_SHARE * top.score and tax.priority(c.tag) < tax.priority(top.tag)]
            if urgent:
                pick = min(urgent, key=lambda c: (tax.priority(c.tag), -c.score))
                return TagDecision(pick.tag, round(pick.score, 4), [top], Reason(code="tag.more_urgent", params={
                    "tag": pick.tag, "tag_name": tax.name(pick.tag), "priority": tax.priority(pick.tag),
                    "top": top.tag, "top_name": tax.name(top.tag), "p": top.probability}),
                    probability=pick.probability, overridden=top.tag)
            return TagDecision(top.tag, round(top.score, 4), runners, Reason(code="tag.top", params={
                "tag": top.tag, "tag_name": tax.name(top.tag), "p": top.probability}), probability=top.probability)
        strong = [c for c in candidates if c.probability >= COMPETITOR_PROBABILITY]
        if len(strong) < 2:  # one candidate, or none, and not sure enough of it
            return TagDecision(tax.catch_all, round(top.score, 4), candidates, Reason(code="tag.far", params={
                "tag": top.tag, "tag_name": tax.name(top.tag), "p": top.probability}),
                probability=top.probability, overridden=top.tag, competing=[c.tag for c in strong])
        competing = ", ".join(f"{tax.name(c.tag)} {c.probability:.2f}" for c in strong[:2])
        return TagDecision(tax.catch_all, round(top.score, 4), candidates,
                           Reason(code="tag.competing", params={"competing": competing}),
                           probability=top.probability, overridden=top.tag, competing=[c.tag for c in strong[:2]])


def leads(ranked: Sequence[tuple[str, float]]) -> list[tuple[str, float, float]]:
    """The best ``CANDIDATES`` tags of a ranking, each with its score and its lead over the best other of the top
    ``CANDIDATES + 1`` (negative when behind): what the calibration reads, in fitting and in deciding alike."""
    top = ranked[:CANDIDATES + 1]
    return [(tag, p, p - max((q for j, (_, q) in enumerate(top) if j != i), default=0.0))
            for i, (tag, p) in enumerate(top[:CANDIDATES])]


def calibrate_cutoffs(taxonomy: Taxonomy, examples: Sequence[TagExample], vectors: NDArray[np.float32],
                     groups: Sequence[str], target: float = TAG_TARGET_PRECISION) -> Cutoffs:
    """When this taxonomy's tagger gives a tag, by k-fold cross-validation on its own labeled texts
    (``cross_validated``): a logistic calibration of each candidate's probability of being right from its score
    and lead, and the loosest probability at which the tags given are ``target`` right at their 90% lower bound
    (``threshold_for_precision``), never below ``target`` itself, so every tag given is itself likely right.
    The fallback cut-offs when the texts are too few."""
    from sklearn.linear_model import LogisticRegression

    from triage.stages.answering import threshold_for_precision, wilson_lower

    ranked, truth = cross_validated(taxonomy, examples, vectors, groups)
    if len(truth) < MIN_CUTOFF_ROWS:
        return Cutoffs(examples=len(truth))
    features, labels = [], []
    for candidates, tag in zip(ranked, truth, strict=True):
        for candidate, p, lead in leads(candidates):
            features.append((p, lead))
            labels.append(candidate == tag)
    y = np.array(labels)
    if y.all() or not y.any():
        return Cutoffs(examples=len(truth), meets_target=bool(y.all()))
    fit = LogisticRegression(C=1.0).fit(np.array(features), y)
    cutoffs = Cutoffs(weights=[float(w) for w in fit.coef_[0]], bias=float(fit.intercept_[0]),
                      source="cross-validation", examples=len(truth))
    top = np.array([cutoffs.probability(*leads(c)[0][1:]) for c in ranked])
    right = np.array([c[0][0] == tag for c, tag in zip(ranked, truth, strict=True)])
    found = threshold_for_precision(top, right, target)
    cutoffs.min_probability = round(max(found, target), 4) if found < 1.0 else target
    given = top >= cutoffs.min_probability
    cutoffs.meets_target = bool(given.any()) and bool(wilson_lower(right[given].mean(), given.sum()) >= target)
    cutoffs.precision = round(float(right[given].mean()), 4) if given.any() else None
    cutoffs.review_share = round(float(1 - given.mean()), 4)
    return cutoffs


def cross_validated(taxonomy: Taxonomy, examples: Sequence[TagExample], vectors: NDArray[np.float32],
                    groups: Sequence[str]) -> tuple[list[list[tuple[str, float]]], list[str]]:
    """The best ``CANDIDATES + 1`` tags with their scores, and the right tag, for every labeled text, each
    tagged by a tagger trained on the other folds. Texts of one group (an FAQ entry's phrasings, and any other
    text equal to one of them) are held out together, so no text is tagged by a tagger that learned it or its
    sibling."""
    keep = [i for i, e in enumerate(examples) if e.tag in taxonomy.tags and e.tag != taxonomy.catch_all]
    unique = sorted({groups[i] for i in keep})
    fold_of = {g: n % TAG_FOLDS for n, g in enumerate(np.random.default_rng(13).permutation(unique).tolist())}
    ranked: list[list[tuple[str, float]]] = []
    truth: list[str] = []
    for fold in range(TAG_FOLDS if len(keep) >= MIN_CUTOFF_ROWS else 0):
        train = [i for i in keep if fold_of[groups[i]] != fold]
        test = [i for i in keep if fold_of[groups[i]] == fold]
        try:
            tagger = Tagger(taxonomy, [examples[i] for i in train], vectors[train])
        except TaxonomyError:
            continue
        for i in test:
            ranked.append(tagger.scores(examples[i].text, vectors[i]).ranked[:CANDIDATES + 1])
            truth.append(examples[i].tag)
    return ranked, truth


def _groups(texts: Sequence[TagExample]) -> list[str]:
    """The cross-validation group of each text: the same words (case and spacing aside) are one group, so a
    text repeated as a taxonomy example and an FAQ phrasing is never tagged by a tagger that learned it."""
    return [" ".join(t.text.lower().split()) for t in texts]


def cached_cutoffs(cache: Path | None, taxonomy: Taxonomy, examples: Sequence[TagExample], embedder_name: str,
                   compute: Callable[[], Cutoffs]) -> Cutoffs:
    """``compute()``'s cut-offs, kept in ``cache`` (a folder) under a hash of everything they depend on: the
    labeled texts, the taxonomy's tags and catch-all, the embedder and the tagger's constants. The serving process,
    the message worker and every restart on the same data then share one cross-validation."""
    if cache is None:
        return compute()
    key = hashlib.sha256(json.dumps([
        embedder_name, sorted(taxonomy.tags), taxonomy.catch_all, [(e.text, e.tag) for e in examples],
        TAG_TARGET_PRECISION, TAG_FOLDS, MIN_CUTOFF_ROWS, CANDIDATES, REGULARIZATION_C, MEMORY_WEIGHT,
        MEMORY_NEIGHBOURS, MEMORY_TEMPERATURE, WORDING_WEIGHT],
        ensure_ascii=False).encode()).hexdigest()
    path = cache / f"{key[:32]}.json"
    try:
        return Cutoffs(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        pass
    cutoffs = compute()
    cache.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(asdict(cutoffs)))  # a concurrent reader sees the whole file or none
    return cutoffs


def train_tagger(taxonomy: Taxonomy, embedder: Embedder, snapshot: Snapshot | None = None,
                 labeled: Sequence[tuple[str, str]] = (),
                 corrections: Sequence[tuple[str, str]] = (), cutoffs_cache: Path | None = None) -> Tagger:
    """A tagger from the taxonomy, the KB's FAQ phrasings, a labeled file and stored corrections; the
    corrections are training rows and, as when they arrived, overrides for near-identical messages.
    ``cutoffs_cache``: a folder that keeps the needs_review cut-offs (``cached_cutoffs``)."""
    texts = taxonomy_examples(taxonomy) + [TagExample(text, tag) for text, tag in [*labeled, *corrections]]
    vectors = embedder.encode_queries([e.text for e in texts]) if texts else None
    first_correction = len(texts) - len(corrections)
    if snapshot is not None:
        faq, faq_vectors = faq_examples(taxonomy, snapshot)
        texts += faq
        vectors = faq_vectors if vectors is None else np.vstack([vectors, faq_vectors])
    if vectors is None:
        raise TaxonomyError([f"{taxonomy.origin}: no examples to learn the tags from"])
    tagger = Tagger(taxonomy, texts, vectors)
    tagger.cutoffs = cached_cutoffs(cutoffs_cache, taxonomy, texts, embedder.name,
                                    lambda: calibrate_cutoffs(taxonomy, texts, vectors, _groups(texts)))
    for row, (_, tag) in enumerate(corrections, first_correction):
        if tag in tagger.column:
            tagger.learn(vectors[row], tag)
    return tagger
