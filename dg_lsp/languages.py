"""LSP languageId → tree-sitter grammar and the few per-language facts context pinning needs.

Grammars are imported lazily (first document of that language), never at server start-up: each
grammar wheel costs ~0.1 s to import and `initialize` must be answered before any of that.
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LanguageSpec:
    name: str  # the engine's language name
    module: str  # grammar wheel
    function: str = "language"  # function in the wheel returning the grammar pointer
    # Node types that open a scope worth pinning: its header line(s) are kept in the context.
    scopes: frozenset[str] = frozenset()
    imports: frozenset[str] = frozenset()
    # Node types that hold a block body: an empty one under the cursor asks for a multi-line fill.
    blocks: frozenset[str] = frozenset()
    # Line endings that open a block (a newline after them starts a body).
    openers: tuple[str, ...] = ("{",)
    comment: str = "//"
    statement_suffixes: tuple[str, ...] = ("statement", "declaration", "definition", "declarator",
                                           "expression", "assignment", "pair", "field", "item")
    # Indentation languages: the keywords that begin a line opening an indented block. There the
    # next line's indentation says what kind a line is (deeper: it opens a block), and the syntax
    # guard (engine/syntax.py) restarts a fill of the wrong kind with the whole kind forbidden.
    headers: frozenset[str] = frozenset()


_C_SCOPES = frozenset({"function_definition", "struct_specifier", "enum_specifier", "union_specifier"})
_BRACE_BLOCKS = frozenset({"compound_statement", "statement_block", "block", "class_body",
                           "declaration_list", "field_declaration_list", "constructor_body"})

SPECS: dict[str, LanguageSpec] = {
    "python": LanguageSpec(
        "python", "tree_sitter_python",
        scopes=frozenset({"function_definition", "class_definition", "decorated_definition"}),
        imports=frozenset({"import_statement", "import_from_statement", "future_import_statement"}),
        blocks=frozenset({"block"}), openers=(":",), comment="#",
        headers=frozenset({"if", "elif", "else", "for", "while", "try", "except", "finally", "with",
                           "def", "class", "async", "match", "case"})),
    "javascript": LanguageSpec(
        "javascript", "tree_sitter_javascript",
        scopes=frozenset({"function_declaration", "class_declaration", "method_definition",
                          "generator_function_declaration", "arrow_function", "function_expression"}),
        imports=frozenset({"import_statement"}), blocks=_BRACE_BLOCKS, openers=("{", "=>")),
    "typescript": LanguageSpec(
        "typescript", "tree_sitter_typescript", "language_typescript",
        scopes=frozenset({"function_declaration", "class_declaration", "method_definition",
                          "interface_declaration", "arrow_function", "function_expression"}),
        imports=frozenset({"import_statement"}), blocks=_BRACE_BLOCKS | {"interface_body", "object_type"},
        openers=("{", "=>")),
    "tsx": LanguageSpec(
        "tsx", "tree_sitter_typescript", "language_tsx",
        scopes=frozenset({"function_declaration", "class_declaration", "method_definition",
                          "interface_declaration", "arrow_function", "function_expression"}),
        imports=frozenset({"import_statement"}), blocks=_BRACE_BLOCKS | {"interface_body", "object_type"},
        openers=("{", "=>")),
    "go": LanguageSpec(
        "go", "tree_sitter_go",
        scopes=frozenset({"function_declaration", "method_declaration", "type_declaration"}),
        imports=frozenset({"import_declaration", "package_clause"}), blocks=_BRACE_BLOCKS),
    "rust": LanguageSpec(
        "rust", "tree_sitter_rust",
        scopes=frozenset({"function_item", "impl_item", "trait_item", "struct_item", "enum_item", "mod_item"}),
        imports=frozenset({"use_declaration", "extern_crate_declaration"}), blocks=_BRACE_BLOCKS),
    "java": LanguageSpec(
        "java", "tree_sitter_java",
        scopes=frozenset({"class_declaration", "method_declaration", "interface_declaration",
                          "constructor_declaration", "enum_declaration", "record_declaration"}),
        imports=frozenset({"import_declaration", "package_declaration"}),
        blocks=_BRACE_BLOCKS | {"interface_body", "enum_body"}),
    "c": LanguageSpec("c", "tree_sitter_c", scopes=_C_SCOPES,
                      imports=frozenset({"preproc_include"}), blocks=_BRACE_BLOCKS),
    "cpp": LanguageSpec("cpp", "tree_sitter_cpp",
                        scopes=_C_SCOPES | {"class_specifier", "namespace_definition"},
                        imports=frozenset({"preproc_include", "using_declaration"}), blocks=_BRACE_BLOCKS),
}

# LSP languageIds (and a few common aliases) → SPECS key.
ALIASES: dict[str, str] = {
    "python": "python", "py": "python",
    "javascript": "javascript", "javascriptreact": "javascript", "js": "javascript", "jsx": "javascript",
    "typescript": "typescript", "ts": "typescript",
    "typescriptreact": "tsx", "tsx": "tsx",
    "go": "go", "golang": "go", "rust": "rust", "rs": "rust", "java": "java",
    "c": "c", "cpp": "cpp", "c++": "cpp", "cuda-cpp": "cpp", "objective-cpp": "cpp",
}


def spec_for(language_id: str) -> LanguageSpec | None:
    key = ALIASES.get(language_id.lower())
    return SPECS.get(key) if key else None


def engine_language(language_id: str) -> str:
    """The engine speaks LSP language ids; aliases map to theirs, anything else is plaintext."""
    from engine.api import KNOWN_LANGUAGES

    lid = language_id.lower()
    if lid in KNOWN_LANGUAGES:
        return lid
    key = ALIASES.get(lid)
    canonical = "typescriptreact" if key == "tsx" else key
    return canonical if canonical in KNOWN_LANGUAGES else "plaintext"


@cache
def grammar(language_id: str) -> Any | None:
    """The tree_sitter.Language for `language_id`, or None (unknown language or missing wheel)."""
    spec = spec_for(language_id)
    if spec is None:
        return None
    try:
        import tree_sitter

        module = importlib.import_module(spec.module)
        return tree_sitter.Language(getattr(module, spec.function)())
    except Exception as exc:  # a broken wheel must not take the server down
        log.warning("tree-sitter grammar for %s unavailable: %s", language_id, exc)
        return None


def parser_for(language_id: str) -> Any | None:
    lang = grammar(language_id)
    if lang is None:
        return None
    import tree_sitter

    return tree_sitter.Parser(lang)


def parse(language_id: str, text: str) -> Any | None:
    parser = parser_for(language_id)
    return parser.parse(text.encode("utf-8", errors="surrogatepass")) if parser else None


def count_errors(tree: Any) -> int:
    """ERROR and MISSING nodes in `tree`, descending only where `has_error` says there are some."""
    if tree is None:
        return 0
    count, stack = 0, [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
            continue
        stack.extend(c for c in node.children if c.has_error or c.is_missing)
    return count
