"""Prompt styles for Docmatix-style QA generation, and the JSON schema the answers must follow.

Docmatix asked an LLM for question/answer pairs about a page's text with a few prompt styles; each
style here asks for a different kind of question so a page gets varied, answerable turns.
"""

from __future__ import annotations

# One system prompt and the page text first for every request about a page (generation and the
# round-trip check): the server's prompt cache then reuses the page's tokens for the second request.
SYSTEM = "You read document pages and work only from the page text given. Reply with JSON only."
# After the page (the page comes first for the prompt cache). Seen with the packaged models: without these
# rules most questions were about the document itself ("What is the title of the document?"), summaries
# ("What is the main topic?") answered with invented text, or counts made of table-of-contents numbers.
# No example questions: the 0.5B model asked them about every page, whatever it held.
GUIDE = (
    "Write {n} question-answer pairs about facts written in this page.\n"
    "- Each question asks for one fact: a value in a table (name its row and column), a name, a date, "
    "an amount, a code, or what a term means.\n"
    "- Each question names the thing it asks about, so it is clear without the page.\n"
    "- Each answer is copied exactly from the page: a value, a name or a short phrase, at most 12 words.\n"
    "- Each pair is about a different fact of the page and has a different answer.\n"
    "- With each pair, the evidence: the line of the page the answer is read from, copied exactly (for a "
    "table: its whole row, with the row's label; at most 3 lines).\n"
    "- Never ask about the document itself (its title, file, author, page numbers or length), never ask "
    "for a summary or the main topic, never ask why unless the page says why."
)

STYLES: dict[str, str] = {
    "lookup": "Prefer names of people, organisations, places and things, and values read from table rows.",
    "numbers": "Prefer numbers, amounts, dates and codes, each asked about what it measures or names.",
    "reasoning": "Prefer what a term means, what something is for or does, as the page states it.",
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
                    # no pattern forcing a final "?": it turned statements and garbled fragments into
                    # "questions" that passed the form check; the checks reject what is not a question
                    "question": {"type": "string"},
                    "answer": {"type": "string"},
                    # the line(s) the answer is read from: checked against the page (synth/checks.py)
                    "evidence": {"type": "string"},
                },
                "required": ["question", "answer", "evidence"],
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
    user = (
        f"{page_prefix(page_text)}{GUIDE.format(n=n)}\n{STYLES[style]}\n"
        'Reply as JSON: {"pairs": [{"question": "...?", "answer": "...", "evidence": "..."}]}'
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


# Evidence first (`qa_prompt=evidence_first`): the model quotes the line, then asks about it, then answers
# from it; the same rules, in the order it writes.
GUIDE_EVIDENCE_FIRST = (
    "Write {n} question-answer pairs about facts written in this page. For each pair:\n"
    "- First the evidence: the whole line of the page that holds one fact, copied exactly (a sentence, or for "
    "a table its whole row with the row's label; at most 3 lines; never the fact alone): a value in a "
    "table, a name, a date, an amount, a code, or what a term means.\n"
    "- Then a question asking for that fact, naming the thing it asks about (for a table value: its row and "
    "column), so it is clear without the page.\n"
    "- Then the answer, copied exactly from the evidence: a value, a name or a short phrase, at most 12 "
    "words.\n"
    "- Each pair is about a different line and has a different answer.\n"
    "- Never ask about the document itself (its title, file, author, page numbers or length), never ask "
    "for a summary or the main topic, never ask why unless the page says why."
)
# Lines first (`qa_prompt=lines`, synth/lines.py): the code chose the lines; the model writes one question
# per line whose answer is in that line. The line is the pair's evidence, so the model does not write it.
GUIDE_LINES = (
    "Lines of this page:\n{lines}\n\n"
    "For each numbered line, in order, write one question about a fact written in that line, and its answer "
    "({n} pairs).\n"
    "- The answer is copied exactly from that line: one value, name, date, amount, code or short phrase, at "
    "most 12 words; never a sum or a calculation, never several of the line's values. Where a line shows "
    "(answer: ...), that is the answer: ask the question it answers.\n"
    "- The question names what it asks about, using the page around the line: for a table value, its row "
    "label and its column header; for a sentence, the person, thing or event it is about. It must have "
    "this one answer on the whole page and be clear without the page.\n"
    "- The question is plain words (no LaTeX markup) and does not contain its answer.\n"
    "- Never ask about the document itself (its title, file, author, page numbers or length), never ask "
    "for a summary or the main topic, never ask why unless the line says why."
)


def evidence_first_messages(page_text: str, n: int = 3) -> list[dict[str, str]]:
    user = (
        f"{page_prefix(page_text)}{GUIDE_EVIDENCE_FIRST.format(n=n)}\n"
        'Reply as JSON: {"pairs": [{"evidence": "...", "question": "...?", "answer": "..."}]}'
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def lines_messages(page_text: str, lines: list[str], answers: list[str | None] | None = None) -> list[dict[str, str]]:
    """`answers`: the answer the code took from each line where the line says which (a table row's value, a
    label's value; `lines.answer_span`), shown after it; None where the model picks the fact."""
    answers = answers or [None] * len(lines)
    numbered = "\n".join(
        f"{i}. {line}" + (f"\n   (answer: {answer})" if answer else "")
        for i, (line, answer) in enumerate(zip(lines, answers, strict=True), 1)
    )
    user = (
        f"{page_prefix(page_text)}{GUIDE_LINES.format(lines=numbered, n=len(lines))}\n"
        'Reply as JSON: {"pairs": [{"line": 1, "question": "...?", "answer": "..."}]}'
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def evidence_first_schema(n: int) -> dict:
    """`qa_schema` with `evidence` first: a constrained decoder writes the properties in this order."""
    item = {"type": "object", "required": ["evidence", "question", "answer"],
            "properties": {k: {"type": "string"} for k in ("evidence", "question", "answer")}}  # fmt: skip
    pairs = {"type": "array", "items": item, "minItems": min(2, n), "maxItems": n}
    return {"type": "object", "properties": {"pairs": pairs}, "required": ["pairs"]}


def lines_schema(n: int) -> dict:
    """One pair per chosen line: its number, the question, the answer (no evidence: the line is)."""
    item = {"type": "object", "required": ["line", "question", "answer"],
            "properties": {"line": {"type": "integer"},
                           "question": {"type": "string"}, "answer": {"type": "string"}}}  # fmt: skip
    # exactly one per line: with a minimum of one, the 1.5B model stopped after the first line's pair
    pairs = {"type": "array", "items": item, "minItems": n, "maxItems": n}
    return {"type": "object", "properties": {"pairs": pairs}, "required": ["pairs"]}


PROMPTS = ("pairs", "evidence_first", "lines")


def roundtrip_messages(page_text: str, question: str) -> list[dict[str, str]]:
    """The round-trip check: answer a question again from the same page text (same prefix as
    `messages`, so a server with a prompt cache does not process the page again)."""
    user = (
        f"{page_prefix(page_text)}Answer the question from the page text alone, with the shortest exact "
        "words of the page (for a table, the value in the row and column the question names). If the page "
        f'does not tell, answer "unanswerable".\nQuestion: {question}\n'
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
