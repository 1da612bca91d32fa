"""Caption tokenizer equal to the COCO evaluation's tokenization step, in pure Python.

pycocoevalcap 1.2 runs the Stanford CoreNLP 3.4.1 `PTBTokenizer` with `-preserveLines
-lowerCase` over every caption, then drops the tokens in `PUNCTUATIONS`. This module
re-implements the lexer rules that matter for captions: the PTB contraction, possessive,
hyphen, number, abbreviation and quote rules and the PTB3 token normalisations. It follows
JFlex semantics, where the longest match wins, the earlier rule wins a tie, string literals
in the rules match in any case and character classes match case-sensitively.

Some consequences of that pipeline surprise people and are kept on purpose, because the
published numbers contain them. Brackets become `-lrb-`, `-rrb-`, `-lsb-`, ... tokens that
survive the punctuation removal, since the removal list is upper case and the tokens are
lower case. Runs such as `!!` or `?!` survive as tokens. A space inside one lexer token
(`1 1/2`, `<the beach>`) becomes a no-break space, so the token stays whole.

NOTE: PTBLexer rules that captions hardly use (phone numbers, file names, some SGML and
smiley forms) are not re-implemented. On 2,500 generated captions the output equals the
Java tokenizer's (tests/metrics/test_tokenizer.py), but rarer text may still differ.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["PUNCTUATIONS", "clear_caches", "ptb_tokens", "tokenize", "tokenize_cached"]

# Tokens that pycocoevalcap 1.2 removes after PTB tokenization (its PUNCTUATIONS list).
PUNCTUATIONS = frozenset(
    [
        "''",
        "'",
        "``",
        "`",
        "-LRB-",
        "-RRB-",
        "-LCB-",
        "-RCB-",
        ".",
        "?",
        "!",
        ",",
        ":",
        "-",
        "--",
        "...",
        ";",
    ]
)

# ---------------------------------------------------------------------------------------
# Lexer macros, named after the PTBLexer macros they stand for.


def _numeric_letters() -> str:
    """Return a regex class body of the BMP characters that Python's \\w counts but Java's isLetter does not.

    Those are the non-decimal numerals (Unicode categories Nl and No: "½", "Ⅻ", "²").
    """
    # NOTE: only the Basic Multilingual Plane is scanned, to keep import fast. Numerals
    # above U+FFFF therefore still count as letters here, unlike in Java.
    codes = [code for code in range(0x10000) if unicodedata.category(chr(code)) in ("Nl", "No")]
    return "".join(re.escape(chr(code)) for code in codes)


_L = rf"(?:[^\W\d_{_numeric_letters()}]|[\u00AD\u0237-\u024F\u02C2-\u02C5\u02D2-\u02DF\u02E5-\u02FF\u0300-\u036F])"
_D = r"\d"
_LD = rf"(?:{_L}|{_D})"
_APOS = r"(?:['\u0092\u2019]|&apos;)"
_APOSETC = rf"(?:{_APOS}|[`\u0091\u2018\u201B])"
_HYPHEN = r"[-_\u058A\u2010\u2011]"
_WORD = rf"{_L}{_LD}*(?:[.!?]{_L}{_LD}*)*"
_REDAUX = rf"{_APOS}(?:[msdMSD]|re|ve|ll|RE|VE|LL|Re|Ve|Ll)"
_SWORD = r"[A-Za-z\u00AD]*[A-MO-Za-mo-z]\u00AD*"
_SREDAUX = rf"[nN]{_APOSETC}[tT]"
_APOWORD = (
    rf"{_APOS}[nN]{_APOS}|{_APOS}[nN](?![A-Za-z])|[lLdDjJyY]{_APOS}|(?i:dunkin|somethin|ol){_APOS}"
    rf"|[A-HJ-XZn]{_APOSETC}{_L}{{2}}{_L}*|{_APOS}[2-9]0[sS]|{_APOS}(?i:till?|tis|em|cause)"
    rf"|{_L}+[aeiouyAEIOUY]{_APOSETC}[aeiouA-Z]{_L}*"
    rf"|(?i:cont'd\.?|'twas|nor'easter|c'mon|e'er|s'mores|ev'ry|li'l|nat'l)|[oO]{_APOSETC}[oO]"
)
_NUM = rf"(?:{_D}*(?:[.:,\u00AD\u066B\u066C]{_D}+)+|{_D}+)"
_THING = (
    rf"(?:[dDoOlL]{_APOSETC}(?={_LD}))?{_LD}+"
    rf"(?:{_HYPHEN}(?:[dDoOlL]{_APOSETC}(?={_LD}))?{_LD}+)*"
)
_ALNUM = r"[^\W_]"
_ALPHA = r"[^\W\d_]"
_THING3 = rf"{_ALNUM}+(?:-{_ALPHA}+){{0,2}}(?:\\?/{_ALNUM}+(?:-{_ALPHA}+){{0,2}}){{1,2}}"
_ACRO = r"[A-Za-z](?:\.[A-Za-z])*"
_ABMONTH = r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
_ABDAYS = r"Mon|Tue|Tues|Wed|Thu|Thurs|Fri"
_ABSTATE = (
    r"Ala|Ariz|(?-i:A)z|(?-i:A)rk|Calif|Colo|Conn|Ct|Dak|(?-i:D)el|Fla|Ga|(?-i:I)ll|Ind|Kans?|Ky|(?-i:L)a"
    r"|(?-i:M)ass|Md|Mich|Minn|(?-i:M)iss|Mo|Mont|Neb|Nev|Okla|(?-i:O)re|(?-i:P)a|Penn|Tenn|(?-i:T)ex|Va|Vt"
    r"|(?-i:W)ash|Wisc?|Wyo"
)
_ABCOMP = r"Inc|Cos?|Corp|Pp?t(?-i:[ye])s?|Ltd|Plc|Bancorp|Dept|Bhd|Assn|Univ|Intl|Sys"
_ABPTIT = r"Jr|Sr|Bros|(?:Ed|Ph)\.D|Blvd|Rd|Esq"
_ABTITLE = (
    r"Mr|Mrs|Ms|(?-i:M)iss|Drs?|Profs?|Sens?|Reps?|Attys?|Lt|Col|Gen|Messrs|Govs?|Adm|Rev|Maj|Sgt|Cpl"
    r"|Pvt|Mt|Capt|Ste?|Ave|Pres|Lieut|Hon|Brig|Co?mdr|Pfc|Spc|Supts?|Det|M|Mme|Mlle"
)
_ABBREV1 = rf"(?i:{_ABMONTH}|{_ABDAYS}|{_ABSTATE}|{_ABCOMP}|tel|est|ext|sq|{_ABPTIT}|etc|al|seq)\."
_ABBREV4 = rf"(?:{_ACRO}|(?i:{_ABTITLE}|vs|Alex|Wm|Jos|Cie|a\.k\.a|cf|TREAS|Invt|Elec|Natl|M(?-i:[ft])g|ft|bldg))"
_QUOTES = r"(?:['\u0092\u2019]|&apos;|[`\u2018-\u201F\u0082\u0084\u0091-\u0094\u2039\u203A\u00AB\u00BB]{1,2})"
_XML_NAME = r"[A-Za-z][A-Za-z0-9_:.-]*"
_SGML = (
    rf"<(?:[!?][A-Za-z-][^>\r\n]*|/{_XML_NAME}|{_XML_NAME}"
    rf"(?:[ ]+(?:{_XML_NAME}[ ]*=[ ]*(?:'[^']*'|\"[^\"]*\"|{_XML_NAME})|{_XML_NAME}))*[ ]*/?)[ ]*>"
)

# Character maps for the PTB3 normalisations (dashes, currency, fractions, brackets, quotes).
_FRACTIONS = {
    "\u00bc": "1/4",
    "\u00bd": "1/2",
    "\u00be": "3/4",
    "\u2153": "1/3",
    "\u2154": "2/3",
    "\u2155": "1/5",
    "\u2156": "2/5",
    "\u2157": "3/5",
    "\u2158": "4/5",
    "\u2159": "1/6",
    "\u215a": "5/6",
    "\u215b": "1/8",
    "\u215c": "3/8",
    "\u215d": "5/8",
    "\u215e": "7/8",
}
_CURRENCY = {"\u00a2": "cents", "\u00a3": "#", "\u0080": "$", "\u20ac": "$"}
_BRACKETS = {
    "(": "-LRB-",
    ")": "-RRB-",
    "[": "-LSB-",
    "]": "-RSB-",
    "{": "-LCB-",
    "}": "-RCB-",
    "&lt;": "<",
    "&gt;": ">",
}


def _quote(token: str) -> str:
    """Map any quote token to a PTB quote; which one does not matter, all are removed later."""
    return "''" if len(token) > 1 or token in '"\u201c\u201d\u00ab\u00bb' else "'"


def _apostrophes(token: str) -> str:
    return re.sub(r"[\u0092\u2019\u0091\u2018\u201B`]|&apos;", "'", token)


# One rule: (main pattern, trailing context pattern or None, token transform or None).
# Rules are tried at every position; the longest match of main+context wins, and on equal
# length the earlier rule wins (JFlex semantics). Only `main` is consumed.
_Rule = tuple[str, "str | None", "object"]

_RULES: list[_Rule] = [
    (_SGML, None, None),
    (r"&(?:MD|mdash|ndash);|[\u0096\u0097\u2013\u2014\u2015]", None, lambda t: "--"),
    (r"&amp;", None, lambda t: "&"),
    (r"&(?:HT|TL|UR|LR|QC|QL|QR|odq|cdq|#[0-9]+);", None, None),
    (_WORD, _REDAUX, None),
    (_SWORD, _SREDAUX, None),
    (_WORD, None, None),
    # A word with a full stop before in-sentence punctuation keeps the stop ("approx.;").
    (rf"{_WORD}\.", r"[,;:\u3001]", None),
    (_APOWORD, None, _apostrophes),
    (r"https?://[^\s\"<>|()]*[^\s\"<>|.!?(){},\-]", None, None),
    (
        r"(?:(?:www\.(?:[^\s\"<>|.!?(){},]+\.)+[a-zA-Z]{2,4})|(?:(?:[^\s\"`'<>|.!?(){},\-_$]+\.)+(?:com|net|org|edu)))"
        r"(?:/[^\s\"<>|()]+[^\s\"<>|.!?(){},\-])?",
        None,
        None,
    ),
    (
        r"(?:&lt;|<)?[a-zA-Z0-9][^\s\"<>|()\u00A0]*@(?:[^\s\"<>|().\u00A0]+\.)*[^\s\"<>|().\u00A0]+(?:&gt;|>)?",
        None,
        None,
    ),
    (rf"@[a-zA-Z_][a-zA-Z_0-9]*|#{_WORD}", None, None),
    (_REDAUX, r"[^A-Za-z]|$", _apostrophes),
    (_SREDAUX, None, _apostrophes),
    (rf"{_D}{{1,2}}[\-/]{_D}{{1,2}}[\-/]{_D}{{2,4}}", None, None),
    (rf"[\-+]?{_NUM}", None, None),
    (
        r"[\u207A\u207B\u208A\u208B]?(?:[\u2070\u00B9\u00B2\u00B3\u2074-\u2079]+|[\u2080-\u2089]+)",
        None,
        None,
    ),
    (rf"(?:{_D}{{1,4}}[- \u00A0])?{_D}{{1,4}}(?:\\?/|\u2044){_D}{{1,4}}", None, None),
    (r"[\u00BC\u00BD\u00BE\u2153-\u215E]", None, lambda t: _FRACTIONS[t]),
    (
        rf"(?i:-(?:RRB|LRB|RCB|LCB|RSB|LSB)-|C\.D\.s|pro-|anti-|S(?:&|&amp;)P-500|S(?:&|&amp;)Ls|Cap{_APOS}n|c{_APOS}est)",
        None,
        None,
    ),
    (rf"{_APOS}[0-9][0-9]", r"[ \t\u00A0]|$", _apostrophes),
    (r"(?i:E|Yahoo|Jeopardy|OK)!", None, None),
    (_THING3, None, None),
    (r"[A-Z]*\$|#", None, None),
    (
        r"[\u00A2\u00A3\u00A4\u00A5\u0080\u20A0\u20AC\u060B\u0E3F\u20A4\uFFE0\uFFE1\uFFE5\uFFE6]",
        None,
        lambda t: _CURRENCY.get(t, t),
    ),
    (_ABBREV1, None, None),
    (rf"{_ABBREV4}\.", None, None),
    (r"(?i:ca|figs?|prop|nos?|art|pp|op)\.", r"[ \t\u00A0]+\d", None),
    (r"[A-Z]+(?:(?:[+&]|&amp;)[A-Z]+)+", None, None),
    (_THING, None, _apostrophes),
    (r"c\+\+|[cf]#", None, None),
    (r"[<>]?[:;=][\-o*']?[()DPdpO\\{@|\[\]]", None, lambda t: t.translate(_PARENTHESES)),
    (r"\"|&quot;", None, lambda t: "''"),
    (_QUOTES, None, _quote),
    (r"\.{3,5}|(?:\. ){2,4}\.|[\u0085\u2026]", None, lambda t: "..."),
    (r"@+|#+|_+", None, None),
    (r"\*+|(?:\\\*){1,3}", None, None),
    (r"[,;:\u3001]", None, None),
    (r"[?!]+", None, None),
    (r"[.\u00A1\u00BF\u037E\u0589\u061F\u06D4\u0700-\u0702\u07FA\u3002]", None, None),
    (r"=+", None, None),
    (r"/", None, None),
    (r"[<\[]|&lt;|[>\]]|&gt;|[{}()]", None, lambda t: _BRACKETS.get(t, t)),
    (r"-{2,}", None, lambda t: "--"),
    (_HYPHEN, None, None),
    (
        r"[+%&~^|\\\u00A6\u00A7\u00A8\u00A9\u00AC\u00AE\u00AF\u00B0-\u00B3\u00B4-\u00BA\u00D7\u00F7"
        r"\u2016\u2017\u2020-\u2023\u2030-\u2038\u203B\u203E-\u2042\u2044\u207A-\u207F\u208A-\u208E"
        r"\u2100-\u214F\u2190-\u21FF\u2200-\u2BFF\u3012\u30FB\uFF01-\uFF0F\uFF1A-\uFF20\uFF3B-\uFF40\uFF5B-\uFF65]",
        None,
        None,
    ),
]

# Smileys keep their brackets except round ones (":)" becomes ":-RRB-").
_PARENTHESES = str.maketrans({"(": "-LRB-", ")": "-RRB-"})


@lru_cache(maxsize=1)
def _compiled_rules() -> list[tuple[re.Pattern, re.Pattern | None, object]]:
    # Compiled on first use: most captions never reach the lexer, and compiling costs tens of ms.
    return [
        (re.compile(main), re.compile(context) if context else None, transform)
        for main, context, transform in _RULES
    ]


_SPACE = re.compile(r"[ \t\u00A0\u2000-\u200A\u3000\r\n\u2028\u2029\u000B\u000C\u0085]+")

# Assimilations that PTBLexer splits into two tokens (`gonna` -> `gon na`).
_ASSIMILATION = re.compile(
    r"(?i)^(?:(can)(not)|(gim)(me)|(gon)(na)|(got)(ta)|(lem)(me)|(wan)(na)|(more)('n)|('t)(is)|('t)(was))$"
)

# Words made only of ASCII letters and digits skip the lexer (see _chunk_tokens).
_PLAIN = re.compile(r"[A-Za-z0-9]+")


def _longest_match(text: str, pos: int) -> tuple[str, int] | None:
    """Return (token, end) for the rule with the longest main+context match at `pos`."""
    best_length = 0
    best: tuple[str, int] | None = None
    for main, context, transform in _compiled_rules():
        match = main.match(text, pos)
        if match is None or match.end() == pos:
            continue
        length = match.end() - pos
        if context is not None:
            tail = context.match(text, match.end())
            if tail is None:
                continue
            length += tail.end() - match.end()
        if length > best_length:
            token = match.group()
            best_length = length
            best = (transform(token) if transform else token, match.end())
    return best


def _split_assimilation(token: str) -> list[str]:
    match = _ASSIMILATION.match(token)
    if match is None:
        return [token]
    return [part for part in match.groups() if part is not None]


def ptb_tokens(line: str) -> list[str]:
    """Split one line into PTB tokens as CoreNLP 3.4.1 `PTBTokenizer -preserveLines` does.

    Tokens keep their case and punctuation; `tokenize` lower-cases and removes punctuation.
    Characters that no rule matches are dropped, as the Java tokenizer does by default.
    """
    tokens: list[str] = []
    pos = 0
    while pos < len(line):
        space = _SPACE.match(line, pos)
        if space is not None:
            pos = space.end()
            continue

        result = _longest_match(line, pos)
        if result is None:
            pos += 1
            continue
        token, pos = result
        # Spaces inside a token ("1 1/2", "<a b>") become no-break spaces, as in Java.
        tokens.extend(_split_assimilation(token.replace(" ", "\u00a0")))
    return tokens


# Lexer matches that can contain a space: an SGML tag with attributes ("<a b>"), a
# fraction with a whole part ("1 1/2") and an abbreviation that keeps its full stop only
# before a number ("no. 5"). Every other token lies within one space-separated chunk.
_SPACED_FRACTION = re.compile(r"\d[ \u00A0]\d{1,4}(?:\\?/|\u2044)\d")
_STOP_BEFORE_NUMBER = re.compile(r"\.[ \t\u00A0]+\d")
_ABBREVIATION_BEFORE_NUMBER = re.compile(r"(?i:(?:ca|figs?|prop|nos?|art|pp|op)\.[ \t\u00A0]+\d)")


def _crosses_space(caption: str) -> bool:
    # Substring tests first: they are much cheaper than the regex searches they guard.
    if "<" in caption:
        return True
    if ("/" in caption or "\u2044" in caption) and _SPACED_FRACTION.search(caption):
        return True
    if "." in caption and _STOP_BEFORE_NUMBER.search(caption):
        return _ABBREVIATION_BEFORE_NUMBER.search(caption) is not None
    return False


def _keep(tokens: list[str]) -> tuple[str, ...]:
    return tuple(t for t in (token.lower() for token in tokens) if t not in PUNCTUATIONS)


@lru_cache(maxsize=1 << 17)
def _chunk_tokens(chunk: str) -> tuple[str, ...]:
    """Tokenize one space-free chunk; chunks repeat across captions, so this is cached."""
    if _PLAIN.fullmatch(chunk):
        return _keep(_split_assimilation(chunk))
    return _keep(ptb_tokens(chunk))


@lru_cache(maxsize=1 << 16)
def tokenize_cached(caption: str) -> tuple[str, ...]:
    """Return `tokenize(caption)` as a tuple from a cache; the metrics use it (no type check)."""
    if _crosses_space(caption):
        return _keep(ptb_tokens(caption))

    # For ASCII text str.split() cuts where Java's lexer does: at spaces and line breaks, and
    # at control characters, which the lexer drops. Other text needs Java's space set.
    chunks = caption.split() if caption.isascii() else _SPACE.split(caption)
    tokens: list[str] = []
    for chunk in chunks:
        if chunk:
            tokens.extend(_chunk_tokens(chunk))
    return tuple(tokens)


def clear_caches() -> None:
    """Empty the caption and chunk caches (for benchmarks that must start cold)."""
    tokenize_cached.cache_clear()
    _chunk_tokens.cache_clear()


def tokenize(caption: str) -> list[str]:
    """Tokenize a caption as the COCO evaluation does before scoring.

    Lower-cases the PTB tokens and drops pycocoevalcap's punctuation tokens, so
    `"A man's dog (big)."` becomes `["a", "man", "'s", "dog", "-lrb-", "big", "-rrb-"]`.
    Newlines inside the caption count as spaces, as in pycocoevalcap.
    """
    if not isinstance(caption, str):
        raise TypeError(
            f"tokenize expected a caption string, found {type(caption).__name__}: {caption!r}"
        )
    return list(tokenize_cached(caption))
