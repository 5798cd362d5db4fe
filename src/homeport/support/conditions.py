"""The small condition language of guided-troubleshooting flows: safe, typed, no ``eval``.

A condition is a boolean expression over named facts (``homeport.support.guided.FACTS``)::

    wan_status == 'down' and 'reboot' in recent_actions
    speed_pct < 80 or (technology == 'fttp' and optical_in_range == false)
    not reporting

Grammar (keywords are lower case)::

    expr    := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | compare
    compare := atom [('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not' 'in') atom]
    atom    := NAME | NUMBER | 'text' | "text" | true | false | null | '(' expr ')'
             | '[' literal (',' literal)* ']'

Conditions are parsed and type-checked when a flow is loaded (:func:`compile_condition`): an
unknown fact, a comparison of a number with text, an ordering of booleans, or a text literal
that the fact can never take (``weakest == 'wifi_coverag'``) is a load error, not a surprise
during a call.

Values that are not known (no report, no score yet) are ``null``. Any comparison with an
unknown value is false except ``== null`` / ``!= null``, and a bare unknown fact is false; so
``wan_status == 'down'`` never fires for a home that has not reported, while ``not wan_up`` does
(write ``wan_up == false`` to mean "known to be down").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Fact types: ``bool``, ``number``, ``text`` and ``list`` (a list of texts).
TYPES = ("bool", "number", "text", "list")


class ConditionError(ValueError):
    """A condition that does not parse or does not type-check."""


@dataclass(frozen=True)
class FactType:
    """What the language needs to know about one fact: its type and, for text (or list) facts
    with a closed set of values, those values."""

    type: str
    choices: tuple[str, ...] = ()


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>-?\d+(?:\.\d+)?)
    | (?P<string>'[^'\\]*'|"[^"\\]*")
    | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
KEYWORDS = ("and", "or", "not", "in", "true", "false", "null")
MAX_LENGTH = 500


@dataclass(frozen=True)
class _Tok:
    kind: str  # number | string | op | name | keyword | end
    text: str
    pos: int


def _tokens(source: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        m = _TOKEN.match(source, pos)
        if m is None or m.end() == pos:
            raise ConditionError(f"unexpected character {source[pos:].strip()[:1]!r} at {pos}")
        group = m.lastgroup or ""
        text = m.group(group)
        kind = "keyword" if group == "name" and text in KEYWORDS else group
        out.append(_Tok(kind, text, m.start(group)))
        pos = m.end()
    out.append(_Tok("end", "", len(source)))
    return out


# --- The tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    def eval(self, facts: Mapping[str, Any]) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Literal(Node):
    value: Any

    def eval(self, facts: Mapping[str, Any]) -> Any:
        return self.value


@dataclass(frozen=True)
class Name(Node):
    name: str

    def eval(self, facts: Mapping[str, Any]) -> Any:
        return facts.get(self.name)


@dataclass(frozen=True)
class Not(Node):
    item: Node

    def eval(self, facts: Mapping[str, Any]) -> Any:
        return not truth(self.item.eval(facts))


@dataclass(frozen=True)
class Logic(Node):
    op: str  # and | or
    items: tuple[Node, ...]

    def eval(self, facts: Mapping[str, Any]) -> Any:
        if self.op == "and":
            return all(truth(i.eval(facts)) for i in self.items)
        return any(truth(i.eval(facts)) for i in self.items)


@dataclass(frozen=True)
class Compare(Node):
    op: str
    left: Node
    right: Node

    def eval(self, facts: Mapping[str, Any]) -> Any:
        a, b = self.left.eval(facts), self.right.eval(facts)
        if self.op in ("==", "!="):
            same = a == b and (a is None) == (b is None)
            return same if self.op == "==" else not same
        if a is None or b is None:
            return False
        if self.op in ("in", "not in"):
            found = a in b
            return found if self.op == "in" else not found
        if self.op == "<":
            return a < b
        if self.op == "<=":
            return a <= b
        if self.op == ">":
            return a > b
        return a >= b


def truth(value: Any) -> bool:
    """A value in a boolean position: unknown is false; a list is true when not empty."""
    if value is None:
        return False
    return bool(value)


# --- Parser and type check --------------------------------------------------------------------


class _Parser:
    def __init__(self, source: str, facts: Mapping[str, FactType]) -> None:
        self.source = source
        self.toks = _tokens(source)
        self.i = 0
        self.facts = facts

    # Each parse method returns (node, type); type is one of TYPES, "null", "bool-expr" is bool.
    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text or tok.kind not in ("op", "keyword"):
            raise ConditionError(f"expected {text!r} at {tok.pos}, found {tok.text or 'the end'!r}")

    def parse(self) -> Node:
        node, typ = self.expr()
        tok = self.peek()
        if tok.kind != "end":
            raise ConditionError(f"unexpected {tok.text!r} at {tok.pos}")
        self.boolean(typ, "the condition")
        return node

    def boolean(self, typ: str, what: str) -> None:
        if typ not in ("bool", "list"):
            raise ConditionError(f"{what} is a {typ}, not true or false (compare it with a value)")

    def expr(self) -> tuple[Node, str]:
        return self._logic("or", self.conj)

    def conj(self) -> tuple[Node, str]:
        return self._logic("and", self.negation)

    def _logic(self, op: str, sub: Any) -> tuple[Node, str]:
        node, typ = sub()
        items = [node]
        while self.peek().kind == "keyword" and self.peek().text == op:
            self.boolean(typ, f"the left side of {op!r}")
            self.take()
            node, typ = sub()
            self.boolean(typ, f"the right side of {op!r}")
            items.append(node)
        if len(items) == 1:
            return items[0], typ
        return Logic(op, tuple(items)), "bool"

    def negation(self) -> tuple[Node, str]:
        tok = self.peek()
        if tok.kind == "keyword" and tok.text == "not":
            self.take()
            node, typ = self.negation()
            self.boolean(typ, "the operand of 'not'")
            return Not(node), "bool"
        return self.compare()

    def compare(self) -> tuple[Node, str]:
        left, ltype = self.atom()
        tok = self.peek()
        op = None
        if tok.kind == "op" and tok.text in ("==", "!=", "<", "<=", ">", ">="):
            op = self.take().text
        elif tok.kind == "keyword" and tok.text == "in":
            self.take()
            op = "in"
        elif tok.kind == "keyword" and tok.text == "not":
            nxt = self.toks[self.i + 1]
            if nxt.kind == "keyword" and nxt.text == "in":
                self.i += 2
                op = "not in"
        if op is None:
            return left, ltype
        right, rtype = self.atom()
        self.check(op, left, ltype, right, rtype, tok.pos)
        return Compare(op, left, right), "bool"

    def check(self, op: str, left: Node, ltype: str, right: Node, rtype: str, pos: int) -> None:
        where = f"{op!r} at {pos}"
        if op in ("==", "!="):
            if "null" in (ltype, rtype):
                return
            if ltype != rtype:
                raise ConditionError(f"{where} compares a {ltype} with a {rtype}")
            self.check_choice(left, right)
            self.check_choice(right, left)
            return
        if op in ("<", "<=", ">", ">="):
            if ltype != "number" or rtype != "number":
                raise ConditionError(
                    f"{where} orders a {ltype} and a {rtype}; both must be numbers"
                )
            return
        # in / not in: text in a list fact or list literal.
        if rtype not in ("list", "list-literal"):
            raise ConditionError(f"{where} needs a list on its right, not a {rtype}")
        if ltype not in ("text", "number"):
            raise ConditionError(f"{where} looks for a {ltype} in a list")
        if isinstance(right, Literal):
            for value in right.value:
                self.check_choice(left, Literal(value))
        self.check_choice(right, left)

    def check_choice(self, fact: Node, literal: Node) -> None:
        """A text literal compared with (or looked for in) a fact with a closed set of values
        must be one of them."""
        if not isinstance(fact, Name) or not isinstance(literal, Literal):
            return
        choices = self.facts[fact.name].choices
        if choices and isinstance(literal.value, str) and literal.value not in choices:
            raise ConditionError(
                f"{fact.name} is never {literal.value!r} (it is one of {', '.join(choices)})"
            )

    def atom(self) -> tuple[Node, str]:
        tok = self.take()
        if tok.kind == "number":
            return Literal(float(tok.text)), "number"
        if tok.kind == "string":
            return Literal(tok.text[1:-1]), "text"
        if tok.kind == "keyword" and tok.text in ("true", "false"):
            return Literal(tok.text == "true"), "bool"
        if tok.kind == "keyword" and tok.text == "null":
            return Literal(None), "null"
        if tok.kind == "name":
            fact = self.facts.get(tok.text)
            if fact is None:
                raise ConditionError(f"unknown fact {tok.text!r} at {tok.pos}")
            return Name(tok.text), fact.type
        if tok.kind == "op" and tok.text == "(":
            node, typ = self.expr()
            self.expect(")")
            return node, typ
        if tok.kind == "op" and tok.text == "[":
            return self.list_literal()
        raise ConditionError(f"unexpected {tok.text or 'end of condition'!r} at {tok.pos}")

    def list_literal(self) -> tuple[Node, str]:
        values: list[Any] = []
        types: set[str] = set()
        while True:
            node, typ = self.atom()
            if not isinstance(node, Literal) or typ not in ("text", "number"):
                raise ConditionError("a list holds only text or number literals")
            values.append(node.value)
            types.add(typ)
            tok = self.take()
            if tok.text == "]":
                break
            if tok.text != ",":
                raise ConditionError(f"expected ',' or ']' at {tok.pos}")
        if len(types) > 1:
            raise ConditionError("a list mixes text and numbers")
        return Literal(tuple(values)), "list-literal"


@dataclass(frozen=True)
class Condition:
    """A parsed, type-checked condition and the facts it reads."""

    source: str
    tree: Node
    names: frozenset[str]

    def __call__(self, facts: Mapping[str, Any]) -> bool:
        return truth(self.tree.eval(facts))


def _names(node: Node) -> set[str]:
    if isinstance(node, Name):
        return {node.name}
    if isinstance(node, Not):
        return _names(node.item)
    if isinstance(node, Logic):
        return set().union(*(_names(i) for i in node.items))
    if isinstance(node, Compare):
        return _names(node.left) | _names(node.right)
    return set()


def compile_condition(source: str, facts: Mapping[str, FactType]) -> Condition:
    """Parse and type-check ``source`` against the known ``facts``; :class:`ConditionError`
    says what is wrong and where."""
    if not isinstance(source, str) or not source.strip():
        raise ConditionError("a condition must be non-empty text")
    if len(source) > MAX_LENGTH:
        raise ConditionError(f"a condition is at most {MAX_LENGTH} characters")
    tree = _Parser(source, facts).parse()
    return Condition(source, tree, frozenset(_names(tree)))


def evaluate(source: str, facts: Mapping[str, Any], types: Mapping[str, FactType]) -> bool:
    """Compile and evaluate in one go (tests, one-off checks)."""
    return compile_condition(source, types)(facts)


__all__: Sequence[str] = (
    "TYPES",
    "Condition",
    "ConditionError",
    "FactType",
    "compile_condition",
    "evaluate",
)
