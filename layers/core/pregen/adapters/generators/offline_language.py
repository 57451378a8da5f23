"""Offline, deterministic content for the language-learning kinds: schema-valid placeholders for local runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pregen.domain.models import Kind

if TYPE_CHECKING:
    from pregen.domain.models import ContentRequest

_DIFFICULTIES = ("easy", "medium", "medium", "hard")
_PARTS_OF_SPEECH = ("noun", "verb", "adjective", "adverb")


def language_content(request: ContentRequest, topic: str, seed: int, *, revised: bool = False) -> dict[str, Any]:
    """One body of ``request.kind``; ``revised`` marks a regenerated version in its title."""
    topic = topic[:60]  # keeps every generated field inside its schema's length limits
    language = request.language or "spanish"
    focus = (request.focus or topic)[:60]
    count = request.count or 1
    tag = seed % 997
    base: dict[str, Any] = {
        "title": f"{topic.title()} ({request.kind.value.replace('_', ' ')}){' - revised' if revised else ''}",
        "level": request.grade or "a2",
        "topics": [topic],
        "focus_areas": [focus],
        "estimated_minutes": max(1, min(240, 3 + count * 2)),
    }
    if request.kind is Kind.VOCABULARY_DRILL:
        items = [
            {
                "term": f"{topic} word {i + 1}-{tag}",
                "translation": f"{topic} meaning {i + 1}",
                "part_of_speech": _PARTS_OF_SPEECH[(seed + i) % len(_PARTS_OF_SPEECH)],
                "example": f"Here we use {topic} word {i + 1}-{tag} in a sentence about {focus}.",
            }
            for i in range(count)
        ]
        return base | {"language": language, "items": items}
    if request.kind is Kind.GRAMMAR_EXERCISE:
        exercises = [
            {
                "prompt": f"Sentence {i + 1} ({tag}): complete it with the right form of {focus}: ___.",
                "answers": [f"{focus} form {i + 1}"],
                "explanation": f"This uses {focus} because the sentence talks about {topic}.",
            }
            for i in range(count)
        ]
        return base | {
            "grammar_point": focus,
            "explanation": f"An offline placeholder explanation of {focus} in {language}, with {topic} examples.",
            "exercises": exercises,
        }
    if request.kind is Kind.CULTURAL_CONTENT:
        return base | {
            "summary": f"An offline placeholder on {topic} in the culture of {language} speakers.",
            "sections": [
                {"heading": "Background", "body": f"Where {topic} comes from and who takes part."},
                {"heading": "Today", "body": f"How {topic} is lived today, with words to know about {focus}."},
            ],
            "key_terms": [topic],
            "discussion_questions": [f"How does {topic} compare with your own culture?"],
        }
    if request.kind is Kind.PRONUNCIATION_DRILL:
        items = [
            {
                "text": f"{topic} sound {i + 1}-{tag}",
                "ipa": f"/{topic[:3]}{i + 1}/",
                "tip": f"Keep the {focus} sound short and clear (item {i + 1}).",
                "minimal_pair": f"{topic} pair {i + 1}-{tag}",
            }
            for i in range(count)
        ]
        return base | {"language": language, "items": items}
    if request.kind is Kind.CONVERSATION_PRACTICE:
        roles = ["Learner", "Partner"]
        turns = [
            {
                "speaker": roles[i % 2],
                "text": f"Line {i + 1} about {topic} ({tag}), practising {focus}.",
                "translation": f"Translation of line {i + 1}.",
            }
            for i in range(max(2, count))
        ]
        return base | {
            "scenario": f"Two people talk about {topic}.",
            "roles": roles,
            "turns": turns,
            "useful_phrases": [f"Could you tell me about {topic}?"],
        }
    exercises = [
        {
            "skill": focus,
            "prompt": f"Exercise {i + 1} ({tag}): use {focus} to talk about {topic}.",
            "answer": f"A model answer using {focus}.",
            "explanation": f"It trains {focus}, which this learner is working on.",
            "difficulty": _DIFFICULTIES[(seed + i) % len(_DIFFICULTIES)],
        }
        for i in range(count)
    ]
    return base | {"instructions": f"Answer each exercise in {language}.", "exercises": exercises}
