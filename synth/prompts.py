"""Prompt styles for Docmatix-style QA generation, and the JSON schema the answers must follow.

Docmatix asked an LLM for question/answer pairs about a page's text with a few prompt styles; each
style here asks for a different kind of question so a page gets varied, answerable turns.
"""

from __future__ import annotations

# One system prompt and the page text first for every request about a page (generation and the
# round-trip check): the server's prompt cache then reuses the page's tokens for the second request.
SYSTEM = "You read document pages and work only from the page text given. Reply with JSON only."
GUIDE = (
    "You write question-answer pairs for training a document-reading assistant. Use only facts stated "
    "in the page text. Each answer must be short and copied or closely paraphrased from the text. Do not "
    "ask about the document itself (its title, file name or page numbers)."
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


def page_prefix(page_text: str) -> str:
    return f"Page text:\n<<<\n{page_text}\n>>>\n\n"


def messages(page_text: str, style: str, n: int = 3) -> list[dict[str, str]]:
    if style not in STYLES:
        raise ValueError(f"unknown prompt style {style!r}; styles: {', '.join(STYLES)}")
    instruction = STYLES[style].format(n=n)
    user = (
        f"{page_prefix(page_text)}{GUIDE}\n{instruction}\n"
        "Every question ends with '?' and is answered by the page text alone. "
        'Reply as JSON: {"pairs": [{"question": "...?", "answer": "..."}]}'
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def roundtrip_messages(page_text: str, question: str) -> list[dict[str, str]]:
    """The round-trip check: answer a question again from the same page text (same prefix as
    `messages`, so a server with a prompt cache does not process the page again)."""
    user = (
        f"{page_prefix(page_text)}Answer the question from the page text alone, with the shortest exact "
        f'words of the page. If the page does not tell, answer "unanswerable".\nQuestion: {question}\n'
        'Reply as JSON: {"answer": "..."}'
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


ROUNDTRIP_SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def qa_schema(n: int) -> dict:
    """The schema, asking for 2..n pairs: without a minimum small models stop after one pair."""
    pairs = {**QA_SCHEMA["properties"]["pairs"], "minItems": min(2, n), "maxItems": n}
    return {**QA_SCHEMA, "properties": {"pairs": pairs}}


def response_format(kind: str, n: int = 3, schema: dict | None = None, name: str = "qa_pairs") -> dict | None:
    """Constrained output: llama.cpp takes a schema in `json_object`, OpenAI and vLLM `json_schema`."""
    schema = schema or qa_schema(n)
    if kind == "llama":
        return {"type": "json_object", "schema": schema}
    if kind == "openai":
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}
    if kind == "none":
        return None
    raise ValueError(f"unknown response format {kind!r}: llama | openai | none")
