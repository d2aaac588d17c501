"""The Merkle tree of RFC 6962 (Certificate Transparency) section 2.1, over SHA-256.

A pure, dependency-free implementation for a tamper-evident, append-only event log:

* ``leaf_hash(d)`` is ``SHA-256(0x00 || d)`` and ``node_hash(l, r)`` is
  ``SHA-256(0x01 || l || r)``; the distinct prefixes keep a leaf from ever being
  mistaken for an interior node (second-preimage resistance).
* ``root(leaves)`` is the Merkle Tree Hash ``MTH`` of RFC 6962 section 2.1 over
  *already hashed* leaves: a list of ``n > 1`` leaves is split at ``k``, the largest
  power of two smaller than ``n``; ``root([]) == EMPTY_ROOT``, the hash of the empty
  string; the root of one leaf is that leaf hash itself.
* ``TreeBuilder`` computes the same root while leaves stream in, in O(log n) memory.
* ``inclusion_proof`` / ``consistency_proof`` generate the audit paths ``PATH(m, D[n])``
  (section 2.1.1) and consistency proofs ``PROOF(m, D[n])`` (section 2.1.2).
* ``verify_inclusion`` / ``verify_consistency`` are the iterative verification
  algorithms of RFC 9162 (CT v2) sections 2.1.3.2 and 2.1.4.2: they need only the
  proof, the tree sizes and the roots, and return ``False`` -- never raise -- on
  anything malformed.

Every ``leaves`` argument is a sequence of 32-byte leaf hashes (``leaf_hash(data)``),
not raw data; a leaf of any other length is refused with ``ValueError`` so that raw
data passed by mistake cannot silently produce a plausible-looking root.

Generation is iterative (no recursion at all), so any tree size works; computing a
subtree hash costs O(size of the subtree) time and O(log size) memory, hence ``root``
is O(n) time, and a proof for a tree of ``n`` leaves costs O(n) time and O(log n)
memory besides the proof itself.

>>> leaves = [leaf_hash(bytes([i])) for i in range(5)]
>>> r = root(leaves)
>>> proof = inclusion_proof(leaves, 3)
>>> verify_inclusion(leaves[3], 3, 5, proof, r)
True
>>> old = root(leaves[:2])
>>> verify_consistency(2, 5, old, r, consistency_proof(leaves, 2))
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "TreeBuilder",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Length in bytes of every hash: leaf hashes, node hashes, roots and proof elements."""

_sha256 = hashlib.sha256

EMPTY_ROOT: bytes = _sha256(b"").digest()
"""``MTH({})``: the SHA-256 of the empty string, the root of the empty tree.

>>> EMPTY_ROOT.hex()
'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
"""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_join = b"".join


# --------------------------------------------------------------------------- hashing


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one log entry.

    >>> leaf_hash(b"").hex()
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'
    >>> leaf_hash(b"L123456").hex()
    '395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56'
    """
    h = _sha256(_LEAF_PREFIX)
    h.update(data)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node.

    >>> node_hash(b"N123", b"N456").hex()
    'aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb'
    >>> node_hash(b"a" * 32, b"b" * 32) != node_hash(b"b" * 32, b"a" * 32)
    True
    """
    return _sha256(_join((_NODE_PREFIX, left, right))).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``): RFC 6962's ``k``.

    >>> [_largest_power_of_two_below(n) for n in (2, 3, 4, 5, 8, 9)]
    [1, 2, 2, 4, 4, 8]
    """
    return 1 << ((n - 1).bit_length() - 1)


def _check_leaf(leaf: bytes) -> bytes:
    if not isinstance(leaf, (bytes, bytearray, memoryview)):
        raise TypeError(f"a leaf hash must be bytes, not {type(leaf).__name__}")
    leaf = bytes(leaf)
    if len(leaf) != HASH_SIZE:
        raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, got {len(leaf)} "
                         "(pass leaf_hash(data), not the data itself)")
    return leaf


def _fold(stack: list[bytes]) -> bytes:
    """Fold a stack of perfect-subtree roots (largest, leftmost first) into one root."""
    if not stack:
        return EMPTY_ROOT
    r = stack[-1]
    for h in reversed(stack[:-1]):
        r = _sha256(_join((_NODE_PREFIX, h, r))).digest()
    return r


def _subtree_root(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """``MTH(D[lo:hi])`` in O(hi - lo) time and O(log(hi - lo)) memory, without recursion.

    Leaves are pushed on a stack of perfect-subtree roots (the ``TreeBuilder``
    algorithm); the ``j``-th leaf pushed closes one perfect subtree for every trailing
    one bit of ``j``.  The decomposition of ``hi - lo`` into decreasing powers of two is
    exactly RFC 6962's split rule, so folding the stack from the right gives ``MTH``.
    """
    stack: list[bytes] = []
    push, pop = stack.append, stack.pop
    sha, join, prefix, size = _sha256, _join, _NODE_PREFIX, HASH_SIZE
    for j in range(hi - lo):
        h = leaves[lo + j]
        if type(h) is not bytes or len(h) != size:
            h = _check_leaf(h)
        while j & 1:
            h = sha(join((prefix, pop(), h))).digest()
            j >>= 1
        push(h)
    return _fold(stack)


# ------------------------------------------------------------------------------ root


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash ``MTH(D[n])`` of a sequence of leaf hashes.

    >>> root([]) == EMPTY_ROOT
    True
    >>> a, b, c = (leaf_hash(x) for x in (b"a", b"b", b"c"))
    >>> root([a]) == a
    True
    >>> root([a, b, c]) == node_hash(node_hash(a, b), c)
    True
    >>> root([b"raw data"])
    Traceback (most recent call last):
    ...
    ValueError: a leaf hash is 32 bytes, got 8 (pass leaf_hash(data), not the data itself)
    """
    return _subtree_root(leaves, 0, len(leaves))


class TreeBuilder:
    """The root of a growing log in O(log n) memory: a stack of perfect subtree roots.

    After ``n`` appends the stack holds one root per one bit of ``n``, largest (and
    leftmost) first: for ``n = 6 = 4 + 2`` the roots of leaves ``0..3`` and ``4..5``.
    Appending a leaf pushes it and then merges the two topmost roots once for every
    trailing one bit of the old size, like a binary counter carrying; ``root()`` folds
    the stack from the right, which is RFC 6962's split rule.

    >>> leaves = [leaf_hash(bytes([i])) for i in range(6)]
    >>> tb = TreeBuilder()
    >>> tb.size, tb.root() == EMPTY_ROOT
    (0, True)
    >>> for leaf in leaves:
    ...     tb.append(leaf)
    >>> tb.size, len(tb._stack)
    (6, 2)
    >>> tb.root() == root(leaves)
    True
    >>> TreeBuilder(leaves[:3]).root() == root(leaves[:3])
    True
    """

    __slots__ = ("_size", "_stack")

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._size = 0
        self._stack: list[bytes] = []
        self.extend(leaves)

    @property
    def size(self) -> int:
        """How many leaves have been appended."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash (32 bytes); amortised O(1) hashes."""
        h = leaf if type(leaf) is bytes and len(leaf) == HASH_SIZE else _check_leaf(leaf)
        stack = self._stack
        n = self._size
        while n & 1:
            h = _sha256(_join((_NODE_PREFIX, stack.pop(), h))).digest()
            n >>= 1
        stack.append(h)
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append every leaf hash of ``leaves`` in order."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """``MTH`` of the leaves appended so far (``EMPTY_ROOT`` when none); O(log n)."""
        return _fold(self._stack)

    def __repr__(self) -> str:
        return f"TreeBuilder(size={self._size}, root={self.root().hex()})"


# ------------------------------------------------------------------------ generation


def _check_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path ``PATH(m, D[n])`` of RFC 6962 section 2.1.1 for leaf ``m = index``.

    ``n = len(leaves)``; the path lists the sibling subtree hashes from the leaf up to
    the root (the deepest first).  Raises ``ValueError`` unless ``0 <= index < n``.

    >>> a, b, c = (leaf_hash(x) for x in (b"a", b"b", b"c"))
    >>> inclusion_proof([a, b, c], 0) == [b, c]
    True
    >>> inclusion_proof([a, b, c], 2) == [node_hash(a, b)]
    True
    >>> inclusion_proof([a], 0)
    []
    >>> inclusion_proof([a, b, c], 3)
    Traceback (most recent call last):
    ...
    ValueError: leaf index 3 is outside a tree of 3 leaves
    """
    n = len(leaves)
    _check_int("index", index)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} is outside a tree of {n} leaves")
    # Walk down from the root: at each split record the hash of the other side.
    siblings: list[bytes] = []
    lo, hi = 0, n
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if index < lo + k:  # PATH(m, D[0:k]) : MTH(D[k:n])
            siblings.append(_subtree_root(leaves, lo + k, hi))
            hi = lo + k
        else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            siblings.append(_subtree_root(leaves, lo, lo + k))
            lo += k
    _check_leaf(leaves[index])
    siblings.reverse()
    return siblings


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """The consistency proof ``PROOF(m, D[n])`` of RFC 6962 section 2.1.2, ``m = old_size``.

    It shows that the tree of the first ``old_size`` leaves is a prefix of the tree of
    all ``n = len(leaves)`` leaves.  The proof is empty when ``old_size`` is ``0`` (the
    empty tree is a prefix of every tree) or ``n``.  Raises ``ValueError`` unless
    ``0 <= old_size <= n``.

    >>> a, b, c, d = (leaf_hash(x) for x in (b"a", b"b", b"c", b"d"))
    >>> consistency_proof([a, b, c, d], 2) == [node_hash(c, d)]
    True
    >>> consistency_proof([a, b, c], 1) == [b, c]
    True
    >>> consistency_proof([a, b, c], 3), consistency_proof([a, b, c], 0)
    ([], [])
    """
    n = len(leaves)
    _check_int("old_size", old_size)
    if not 0 <= old_size <= n:
        raise ValueError(f"old size {old_size} is outside 0..{n}")
    if old_size == 0 or old_size == n:
        return []
    # SUBPROOF(m, D[lo:hi], b), unrolled: m is relative to lo, ``whole`` is b.
    m, lo, hi, whole = old_size, 0, n, True
    tail: list[bytes] = []
    while m != hi - lo:
        k = _largest_power_of_two_below(hi - lo)
        if m <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            tail.append(_subtree_root(leaves, lo + k, hi))
            hi = lo + k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            tail.append(_subtree_root(leaves, lo, lo + k))
            m -= k
            lo += k
            whole = False
    # SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}.
    proof = [] if whole else [_subtree_root(leaves, lo, hi)]
    proof.extend(reversed(tail))
    return proof


# ---------------------------------------------------------------------- verification


def _as_hash(value: object) -> bytes | None:
    """``value`` as 32 bytes, or None when it is not a 32-byte bytes-like object."""
    if isinstance(value, bytes):
        return value if len(value) == HASH_SIZE else None
    if isinstance(value, (bytearray, memoryview)):
        try:
            value = bytes(value)
        except (TypeError, ValueError):  # e.g. a released memoryview
            return None
        return value if len(value) == HASH_SIZE else None
    return None


def _as_path(proof: object, limit: int) -> list[bytes] | None:
    """The proof as a list of 32-byte hashes, or None when malformed or longer than limit."""
    if isinstance(proof, (str, bytes, bytearray, memoryview)):
        return None
    try:
        if len(proof) > limit:  # type: ignore[arg-type]
            return None
        items = list(proof)  # type: ignore[call-overload]
    except Exception:  # not a sized iterable, or one that fails while iterated
        return None
    path = [_as_hash(p) for p in items]
    if any(p is None for p in path):
        return None
    return path  # type: ignore[return-value]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> bool:
    """Whether ``proof`` shows that ``leaf`` is leaf ``index`` of the tree ``(size, root)``.

    The algorithm of RFC 9162 section 2.1.3.2.  ``False`` for anything malformed: an
    index outside ``0 <= index < size`` (so always for ``size == 0``), hashes that are
    not 32 bytes, a proof too short or too long.

    >>> a, b, c = (leaf_hash(x) for x in (b"a", b"b", b"c"))
    >>> r = node_hash(node_hash(a, b), c)
    >>> verify_inclusion(b, 1, 3, [a, c], r)
    True
    >>> verify_inclusion(b, 1, 3, [a, c, c], r), verify_inclusion(b, 0, 3, [a, c], r)
    (False, False)
    >>> verify_inclusion(a, 0, 1, [], a), verify_inclusion(a, 0, 0, [], a)
    (True, False)
    """
    leaf_b = _as_hash(leaf)
    root_b = _as_hash(root)
    if leaf_b is None or root_b is None or not _is_int(index) or not _is_int(size):
        return False
    # 1. leaf_index >= tree_size fails (a negative index is malformed as well).
    if not 0 <= index < size:
        return False
    # A valid path has one element per level: at most bit_length(size - 1).
    path = _as_path(proof, (size - 1).bit_length())
    if path is None:
        return False
    sha, join, prefix = _sha256, _join, _NODE_PREFIX
    # 2.-3.
    fn, sn = index, size - 1
    r = leaf_b
    # 4.
    for p in path:
        if sn == 0:  # a. the proof is too long
            return False
        if fn & 1 or fn == sn:  # b.
            r = sha(join((prefix, p, r))).digest()
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha(join((prefix, r, p))).digest()
        fn >>= 1  # c.
        sn >>= 1
    # 5. sn must be 0 (the proof is not too short) and r the root.
    return sn == 0 and r == root_b


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows tree ``(old_size, old_root)`` is a prefix of ``(new_size, new_root)``.

    For ``0 < old_size < new_size`` the algorithm of RFC 9162 section 2.1.4.2.  The
    cases it leaves out, as the CT reference verifiers treat them:

    * ``old_size == new_size``: consistent iff the proof is empty and the roots equal;
    * ``old_size == 0``: the empty tree is a prefix of every tree, so consistent iff the
      proof is empty and ``old_root`` is ``EMPTY_ROOT`` (and, for ``new_size == 0``,
      ``new_root`` too);
    * ``old_size > new_size``, negative sizes, hashes that are not 32 bytes: ``False``.

    >>> a, b, c, d = (leaf_hash(x) for x in (b"a", b"b", b"c", b"d"))
    >>> old, new = node_hash(a, b), node_hash(node_hash(a, b), node_hash(c, d))
    >>> verify_consistency(2, 4, old, new, [node_hash(c, d)])
    True
    >>> verify_consistency(2, 4, old, new, []), verify_consistency(4, 2, new, old, [])
    (False, False)
    >>> verify_consistency(0, 4, EMPTY_ROOT, new, []), verify_consistency(4, 4, new, new, [])
    (True, True)
    """
    old_b = _as_hash(old_root)
    new_b = _as_hash(new_root)
    if old_b is None or new_b is None or not _is_int(old_size) or not _is_int(new_size):
        return False
    if not 0 <= old_size <= new_size:
        return False
    # A valid proof has at most one element per level of each of the two paths.
    path = _as_path(proof, 2 * new_size.bit_length() + 2)
    if path is None:
        return False
    if old_size == 0:
        return not path and old_b == EMPTY_ROOT and (new_size > 0 or new_b == EMPTY_ROOT)
    if old_size == new_size:
        return not path and old_b == new_b
    # 1. An empty proof cannot prove anything here.
    if not path:
        return False
    # 2. If first is an exact power of 2, prepend first_hash.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_b)
    sha, join, prefix = _sha256, _join, _NODE_PREFIX
    # 3.
    fn, sn = old_size - 1, new_size - 1
    # 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        if sn == 0:  # a. the proof is too long
            return False
        if fn & 1 or fn == sn:  # b.
            fr = sha(join((prefix, c, fr))).digest()
            sr = sha(join((prefix, c, sr))).digest()
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = sha(join((prefix, sr, c))).digest()
        fn >>= 1  # c.
        sn >>= 1
    # 7.
    return sn == 0 and fr == old_b and sr == new_b
