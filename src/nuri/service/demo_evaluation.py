"""The demo competition's evaluation task: a model's perplexity on held-out Korean text.

A demo "model" is a JSON file of word probabilities (a unigram language model) that a team
estimated from its own training text. This task reads the model named by its last argument,
computes its perplexity on the held-out sentences below (lower is better; unseen words get the
model's ``unknown`` probability), and prints ``{"perplexity": ...}`` as its last line, as every
evaluation task must. Small, but a real measurement of the artefact it is given.

    python -m nuri.service.demo_evaluation /path/to/model.json
"""

import json
import math
import sys
from collections import Counter
from pathlib import Path

HELD_OUT = (
    "국가 인공지능 컴퓨팅 자원 은 연구자 모두 에게 열려 있다 . "
    "대학 연구실 은 공정 한 순서 로 GPU 를 받는다 . "
    "지역 데이터 센터 의 국산 NPU 도 같은 방식 으로 배정 된다 . "
    "사용량 과 비용 은 매일 공개 된다 ."
)


def train(text: str, unknown: float = 1e-4) -> dict[str, float]:
    """A unigram model of ``text`` (whitespace tokens), with a floor for unseen words."""
    counts = Counter(text.split())
    total = sum(counts.values())
    model = {word: (1 - unknown) * count / total for word, count in counts.items()}
    model["<unk>"] = unknown
    return model


def perplexity(model: dict[str, float], text: str = HELD_OUT) -> float:
    words = text.split()
    unknown = model.get("<unk>", 1e-6)
    log_likelihood = sum(math.log(model.get(word, unknown)) for word in words)
    return math.exp(-log_likelihood / len(words))


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m nuri.service.demo_evaluation MODEL.json", file=sys.stderr)  # noqa: T201
        return 2
    path = Path(argv[-1])
    model = json.loads(path.read_text(encoding="utf-8"))
    print(f"evaluating {path.name}: {len(model)} words", flush=True)  # noqa: T201
    print(json.dumps({"perplexity": round(perplexity(model), 4)}))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
