"""Prompt styles for Docmatix-style QA generation, and the JSON schema the answers must follow.

Docmatix asked an LLM for question/answer pairs about a page's text with a few prompt styles; each
style here asks for a different kind of question so a page gets varied, answerable turns.
"""

from __future__ import annotations

SYSTEM = (
    "You write question-answer pairs for training a document-reading assistant. "
    "Use only facts stated in the given page text. Each answer must be short and copied or closely "
    "paraphrased from the text. Reply with JSON only."
)

STYLES: dict[str, str] = {
    "lookup": (
        "Write {n} questions that ask for a specific fact stated in the page (a name, a place, a title, "
        "an item). Each answer is the exact words from the page."
    ),
    "numbers": (
        "Write {n} questions whose answers are numbers, amounts, dates or codes that appear in the page. "
        "Each answer is the exact value as written in the page."
    ),
    "reasoning": (
        "Write {n} questions about the main topic of the page, or about why or how something in it "
        "happens. Each answer is one sentence copied from the page."
    ),
}
DEFAULT_STYLES = tuple(STYLES)

QA_SCHEMA = {
    "type": "object",
    "properties": {
        "pairs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    # constrained decoding ends every question with "?": small models otherwise write
                    # noun phrases ("Town name") that the checks reject as not questions
                    "question": {"type": "string", "pattern": r'^[^"\\]+[?]$'},
                    "answer": {"type": "string"},
                },
                "required": ["question", "answer"],
            },
        }
    },
    "required": ["pairs"],
}


def messages(page_text: str, style: str, n: int = 3) -> list[dict[str, str]]:
    if style not in STYLES:
        raise ValueError(f"unknown prompt style {style!r}; styles: {', '.join(STYLES)}")
    instruction = STYLES[style].format(n=n)
    user = (
        f"Page text:\n<<<\n{page_text}\n>>>\n\n{instruction}\n"
        "Every question ends with '?' and is answered by the page text alone. "
        'Reply as JSON: {"pairs": [{"question": "...?", "answer": "..."}]}'
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def qa_schema(n: int) -> dict:
    """The schema, asking for 2..n pairs: without a minimum small models stop after one pair."""
    pairs = {**QA_SCHEMA["properties"]["pairs"], "minItems": min(2, n), "maxItems": n}
    return {**QA_SCHEMA, "properties": {"pairs": pairs}}


def response_format(kind: str, n: int = 3) -> dict | None:
    """Constrained output: llama.cpp takes a schema in `json_object`, OpenAI and vLLM `json_schema`."""
    if kind == "llama":
        return {"type": "json_object", "schema": qa_schema(n)}
    if kind == "openai":
        return {"type": "json_schema", "json_schema": {"name": "qa_pairs", "schema": qa_schema(n)}}
    if kind == "none":
        return None
    raise ValueError(f"unknown response format {kind!r}: llama | openai | none")
