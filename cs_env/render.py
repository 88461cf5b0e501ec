"""The conversation as a picture: ``render_mode="rgb_array"`` frames, laid out as the app shows them.

Left, the last lines of the transcript (the newest at the bottom, as the app's conversation pane
scrolls); right, the customer card (inquiry, industry, tier, urgency, turn n/max), the sentiment gauge
and the last turn's reward in its four parts with the running return. Frames are ``H x W x 3`` uint8,
1024 x 576 (16:9, both sides multiples of 16 so video encoders take them as they are), with text at
a size that reads in a video.

Pillow draws the text. This module imports it, and the env imports this module only inside
``render()``: ``import cs_env`` and ``step()`` never pay for drawing. The font is Pillow's own
(shipped inside its wheel), so a frame looks the same on every machine, with no system font needed.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cs_env.domain import OUTCOME_NAMES, SENTIMENT_NAMES, STRATEGY_NAMES, TIER_NAMES

if TYPE_CHECKING:
    from cs_env.env import CustomerSupportEnv

WIDTH, HEIGHT = 1024, 576
FONT_SIZE = 19
SMALL_SIZE = 16
MARGIN = 16
LINE_GAP = 4
PANEL_X = 660  # where the right-hand panel starts; the transcript wraps before it
TITLE_HEIGHT = 34

Colour = tuple[int, int, int]
BACKGROUND: Colour = (24, 26, 33)
PANEL: Colour = (32, 35, 44)
TITLE_BAR: Colour = (45, 49, 62)
TEXT: Colour = (220, 223, 228)
DIM: Colour = (130, 136, 150)
AGENT: Colour = (120, 190, 255)
GOOD: Colour = (110, 210, 120)
BAD: Colour = (235, 105, 100)
VIP: Colour = (210, 140, 240)
#: sentiment code -> colour, angry (red) .. delighted (bright green): the app's gauge colours
MOOD: tuple[Colour, ...] = ((235, 80, 80), (225, 130, 100), (230, 200, 90), (120, 200, 120), (80, 230, 120))
#: outcome -> colour of its banner
OUTCOME_COLOURS: dict[str, Colour] = {
    "resolved": GOOD,
    "escalated": (230, 200, 90),
    "abandoned": BAD,
    "timeout": (230, 200, 90),
}
#: every colour a frame draws with, and the backgrounds it draws on (a GIF's palette is made from these)
INKS: tuple[Colour, ...] = (TEXT, DIM, AGENT, GOOD, BAD, VIP, *MOOD, *OUTCOME_COLOURS.values())
GROUNDS: tuple[Colour, ...] = (BACKGROUND, PANEL, TITLE_BAR)
#: the reward components as the app's reward breakdown labels them
REWARD_LABELS = ("satisfaction", "efficiency", "business", "escalation")  # the order of TurnRecord.components


class Fonts(NamedTuple):
    """The two text sizes of a frame."""

    regular: ImageFont.FreeTypeFont
    small: ImageFont.FreeTypeFont
    line: int  # pixels from one transcript line to the next


@cache
def fonts() -> Fonts:
    """Pillow's bundled scalable font at the frame's sizes (needs Pillow built with FreeType, as its wheels are)."""
    regular = ImageFont.load_default(FONT_SIZE)
    small = ImageFont.load_default(SMALL_SIZE)
    if not isinstance(regular, ImageFont.FreeTypeFont) or not isinstance(small, ImageFont.FreeTypeFont):
        raise RuntimeError("rgb_array rendering needs Pillow with FreeType support (pip install --force pillow)")
    ascent, descent = regular.getmetrics()
    return Fonts(regular, small, ascent + descent + LINE_GAP)


@lru_cache(maxsize=8192)
def _length(text: str, small: bool) -> float:
    font = fonts().small if small else fonts().regular
    return float(font.getlength(text))


def wrap(text: str, width: float, *, small: bool = False) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` pixels (a longer word stands alone).

    A line's width is the sum of its words' and spaces' widths, each measured once (measuring every
    candidate line would cost more than drawing it); kerning across a space is too small to matter.
    """
    space = _length(" ", small)
    lines: list[str] = []
    current: list[str] = []
    used = 0.0
    for word in text.split():
        w = _length(word, small)
        if current and used + space + w > width:
            lines.append(" ".join(current))
            current, used = [word], w
        else:
            used += (space if current else 0.0) + w
            current.append(word)
    if current:
        lines.append(" ".join(current))
    return lines or [""]


@lru_cache(maxsize=1024)
def _mask(text: str, small: bool) -> Image.Image:
    """The text drawn once as a greyscale mask; frames paste it in a colour (a video repeats most lines)."""
    font = fonts().small if small else fonts().regular
    _, _, right, bottom = font.getbbox(text)
    mask = Image.new("L", (max(int(right), 1), max(int(bottom), 1)), 0)
    ImageDraw.Draw(mask).text((0, 0), text, font=font, fill=255)
    return mask


def _text(image: Image.Image, xy: tuple[float, float], text: str, colour: Colour, *, small: bool = False) -> float:
    """Put ``text`` at ``xy`` in ``colour``; the x just after it."""
    if text:
        mask = _mask(text, small)
        image.paste(colour, (int(xy[0]), int(xy[1])), mask)
    return xy[0] + _length(text, small)


def transcript_lines(env: CustomerSupportEnv, width: float) -> list[tuple[str, Colour]]:
    """The conversation as wrapped, coloured lines, oldest first."""
    opening, exchanges = env.conversation()
    lines: list[tuple[str, Colour]] = []

    def add(text: str, colour: Colour) -> None:
        lines.extend((line, colour) for line in wrap(text, width))

    add(f"Customer ({SENTIMENT_NAMES[env.opening_sentiment]}): {opening.text}", MOOD[env.opening_sentiment])
    for ex in exchanges:
        rec = ex.record
        add(f"Agent [{STRATEGY_NAMES[rec.action]}]: {ex.agent.text}", AGENT)
        add(f"Customer ({SENTIMENT_NAMES[rec.sentiment]}): {ex.customer.text}  {rec.reward:+.2f}", MOOD[rec.sentiment])
        if ex.outcome is not None:
            add(f"-- {ex.outcome} after {ex.turn} turns --", OUTCOME_COLOURS.get(ex.outcome, TEXT))
    return lines


def frame(env: CustomerSupportEnv) -> np.ndarray:
    """The env's conversation as an ``(HEIGHT, WIDTH, 3)`` uint8 picture."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, TITLE_HEIGHT), fill=TITLE_BAR)
    x = _text(image, (MARGIN, 7), "cs-tui", TEXT)
    _text(image, (x + 24, 9), "cs_env/CustomerSupport-v1", DIM, small=True)
    draw.rectangle((PANEL_X, TITLE_HEIGHT, WIDTH, HEIGHT), fill=PANEL)
    if not env.started:  # before the first reset: say so rather than fail inside a video recorder
        _text(image, (MARGIN, TITLE_HEIGHT + MARGIN), "no conversation yet: call reset()", DIM)
        return np.asarray(image, dtype=np.uint8)
    _draw_transcript(image, env)
    _draw_panel(image, draw, env)
    return np.asarray(image, dtype=np.uint8)


def _draw_transcript(image: Image.Image, env: CustomerSupportEnv) -> None:
    line = fonts().line
    lines = transcript_lines(env, PANEL_X - 2 * MARGIN)
    top = TITLE_HEIGHT + MARGIN
    fits = (HEIGHT - top - MARGIN) // line
    for i, (text, colour) in enumerate(lines[-fits:]):  # the newest lines, as the app's pane keeps the end in view
        _text(image, (MARGIN, top + i * line), text, colour)


def _draw_panel(image: Image.Image, draw: ImageDraw.ImageDraw, env: CustomerSupportEnv) -> None:
    line = fonts().line
    s = env.hidden_state
    x, y = PANEL_X + MARGIN, TITLE_HEIGHT + MARGIN
    right = WIDTH - MARGIN
    history = env.history
    outcome = OUTCOME_NAMES[history[-1].outcome] if history else None

    # the customer card
    _text(image, (x, y), env.catalog.inquiries[s.inquiry].name.replace("_", " "), TEXT)
    y += line
    after = _text(image, (x, y), f"{env.catalog.industry_names[s.industry]} · tier ", TEXT)
    _text(image, (after, y), TIER_NAMES[s.tier], VIP if s.tier == len(TIER_NAMES) - 1 else TEXT)
    y += line
    after = _text(image, (x, y), f"urgency {s.urgency}/4", BAD if s.urgency >= 3 else TEXT)
    _text(image, (after, y), f" · turn {len(history)}/{env.max_turns}", TEXT)
    y += line
    if outcome is not None:
        _text(image, (x, y), outcome.upper(), OUTCOME_COLOURS.get(outcome, TEXT))
    y += line + MARGIN

    # the sentiment gauge
    sentiment = history[-1].sentiment if history else env.opening_sentiment
    satisfaction = history[-1].satisfaction if history else env.opening_satisfaction
    before = history[-2].satisfaction if len(history) > 1 else env.opening_satisfaction
    change = satisfaction - before
    after = _text(image, (x, y), "sentiment ", TEXT)
    _text(image, (after, y), SENTIMENT_NAMES[sentiment], MOOD[sentiment])
    y += line
    bar_right = right - 124
    draw.rectangle((x, y + 3, bar_right, y + line - 5), fill=BACKGROUND, outline=DIM)
    filled = x + round(min(max(satisfaction, 0.0), 1.0) * (bar_right - x))
    if filled > x:
        draw.rectangle((x, y + 3, filled, y + line - 5), fill=MOOD[sentiment])
    after = _text(image, (bar_right + 8, y), f"{satisfaction:.2f}", TEXT)
    if abs(change) > 0.005:  # an arrow drawn as a triangle: Pillow's font has no arrow glyphs
        colour, mid, tip, base = (GOOD, after + 14, y + 5, y + 15) if change > 0 else (BAD, after + 14, y + 15, y + 5)
        draw.polygon(((mid - 6, base), (mid + 6, base), (mid, tip)), fill=colour)
        _text(image, (mid + 9, y + 2), f"{change:+.2f}", colour, small=True)
    y += line + MARGIN

    # the last turn's reward, part by part, and the return so far
    total = sum(rec.reward for rec in history)
    after = _text(image, (x, y), "return ", TEXT)
    after = _text(image, (after, y), f"{total:+.2f}", GOOD if total > 0 else TEXT)
    if history:  # the four lines below add up to the last turn's reward, not to the return
        _text(image, (after + 8, y + 2), f"· turn {history[-1].reward:+.2f} =", DIM, small=True)
    y += line
    parts = history[-1].components if history else (0.0,) * len(REWARD_LABELS)
    for label, value in zip(REWARD_LABELS, parts, strict=True):
        value += 0.0  # no "-0.00"
        _text(image, (x + 12, y), label, TEXT)
        _text(image, (x + 160, y), f"{value:+.2f}", GOOD if value > 0 else BAD if value < 0 else DIM)
        y += line
    y += MARGIN

    # the last answer, and the seed that replays the conversation
    if history:
        _text(image, (x, y), f"last answer: {STRATEGY_NAMES[history[-1].action].replace('_', ' ')}", AGENT, small=True)
        y += line
    seed = env.np_random_seed
    if seed is not None and seed >= 0:
        _text(image, (x, y), f"seed {seed}", DIM, small=True)
