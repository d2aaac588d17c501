"""Tests of infra.merkle, the RFC 6962 section 2.1 Merkle tree over SHA-256.

1. Known answers from the Certificate Transparency reference implementations:
   - transparency-dev/merkle, ``proof/verify_test.go``: the roots of the first 1..8 of
     eight test leaves, inclusion and consistency proofs in that tree, and the ways of
     corrupting a proof that must be refused (``corruptInclusionProof``,
     ``corruptConsistencyProof``);
   - transparency-dev/merkle, ``rfc6962/rfc6962_test.go``: empty root, leaf and node
     hashes;
   - google/certificate-transparency, ``python/ct/crypto/merkle_test.py``: leaf and node
     hashes, and an audit path for leaf 848049 of a real log of 3,630,887 entries.
2. Generated proofs equal a direct transliteration of the RFC's recursive definitions.
3. Hypothesis properties: proofs verify, and any single flipped byte makes them fail;
   TreeBuilder agrees with root() at every size.
4. 200,000 leaves under a tight recursion limit.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.merkle import (
    EMPTY_ROOT,
    TreeBuilder,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

# --------------------------------------------------------------- known-answer vectors

# transparency-dev/merkle proof/verify_test.go: ``leaves`` (raw data) and ``roots``
# (roots[i] is the root of the first i + 1 leaves).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = [h(x) for x in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
CT_LEAF_HASHES = [leaf_hash(d) for d in CT_LEAVES]

# ``inclusionProofs``: (leaf, size, proof) -- the Go vectors number leaves from 1, here
# they are converted to 0-based indexes.
CT_INCLUSION = [
    (0, 1, []),
    (0, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (5, 8, [h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (1, 5, [h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]

# ``consistencyProofs``: (size1, size2, proof).
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
    (6, 7, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")

# google/certificate-transparency python/ct/crypto/merkle_test.py (MerkleVerifierTest):
# the audit path of leaf 848049 in a log of 3,630,887 entries.
CT_LOG_LEAF_HASH = h("7a395c866d5ecdb0cccb623e011dbc392cd348d1d1d72776174e127a24b09c78")
CT_LOG_LEAF_INDEX = 848049
CT_LOG_TREE_SIZE = 3630887
CT_LOG_ROOT = h("78316a05c9bcf14a3a4548f5b854a9adfcd46a4c034401b3ce7eb7ac2f1d0ecb")
CT_LOG_AUDIT_PATH = [h(x) for x in (
    "1a208aeebcd1b39fe2de247ee8db9454e1e93a312d206b87f6ca9cc6ec6f1ddd",
    "0a1b78b383f580856f433c01a5741e160d451c185910027f6cc9f828687a40c4",
    "3d1745789bc63f2da15850de1c12a5bf46ed81e1cc90f086148b1662e79aab3d",
    "9095b61e14d8990acf390905621e62b1714fb8e399fbb71de5510e0aef45affe",
    "0a332b91b8fab564e6afd1dd452449e04619b18accc0ff9aa8393cd4928451f2",
    "2336f0181d264aed6d8f3a6507ca14a8d3b3c3a23791ac263e845d208c1ee330",
    "b4ce56e300590500360c146c6452edbede25d4ed83919278749ee5dbe178e048",
    "933f6ddc848ea562e4f9c5cfb5f176941301dad0c6fdb9d1fbbe34fac1be6966",
    "b95a6222958a86f74c030be27c44f57dbe313e5e7c7f4ffb98bcbd3a03bb52f2",
    "daeeb3ce5923defd0faeb8e0c210b753b85b809445d7d3d3cd537a9aabaa9c45",
    "7fadd0a13e9138a2aa6c3fdec4e2275af233b94812784f66bcca9aa8e989f2bc",
    "1864e6ba3e32878610546539734fb5eeae2529991f130c575c73a7e25a2a7c56",
    "12842d1202b1dc6828a17ab253c02e7ce9409b5192430feba44189f39cc02d66",
    "29af64b16fa3053c13d02ac63aa75b23aa468506e44c3a2315edc85d2dc22b11",
    "b527b99934a0bd9edd154e449b0502e2c499bba783f3bc3dfe23364b6b532009",
    "4584db8ae8e351ace08e01f306378a92bfd43611714814f3d834a2842d69faa8",
    "86a9a41573b0d6e4292f01e93243d6cc65b30f06606fc6fa57390e7e90ed580f",
    "a88b98fbe84d4c6aae8db9d1605dfac059d9f03fe0fcb0d5dff1295dacba09e6",
    "06326dc617a6d1f7021dc536026dbfd5fffc6f7c5531d48ef6ccd1ed1569f2a1",
    "f41fe8fdc3a2e4e8345e30216e7ebecffee26ff266eeced208a6c2a3cf08f960",
    "40cf5bde8abb76983f3e98ba97aa36240402975674e120f234b3448911090f8d",
    "b3222dc8658538079883d980d7fdc2bef9285344ea34338968f736b04aeb387a",
)]


def test_hash_primitives():
    # rfc6962/rfc6962_test.go
    assert h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == EMPTY_ROOT
    assert root([]) == EMPTY_ROOT
    assert leaf_hash(b"") == h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert leaf_hash(b"") != EMPTY_ROOT
    assert leaf_hash(b"L123456") == h(
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    assert node_hash(b"N123", b"N456") == h(
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb")
    # python/ct/crypto/merkle_test.py (TreeHasherTest)
    assert leaf_hash(h("101112131415161718191a1b1c1d1e1f")) == h(
        "3bfb960453ebaebf33727da7a1f4db38acc051d381b6da20d6d4e88f0eabfd7a")
    assert node_hash(
        h("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
        h("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"),
    ) == h("1a378704c17da31e2d05b6d121c2bb2c7d76f6ee6fa8f983e596c2d034963c57")
    # Hashing accepts any bytes-like object.
    assert leaf_hash(bytearray(b"L123456")) == leaf_hash(memoryview(b"L123456"))


@pytest.mark.parametrize("size", range(1, 9))
def test_known_roots(size):
    assert root(CT_LEAF_HASHES[:size]) == CT_ROOTS[size - 1]
    assert root(tuple(CT_LEAF_HASHES[:size])) == CT_ROOTS[size - 1]
    assert TreeBuilder(CT_LEAF_HASHES[:size]).root() == CT_ROOTS[size - 1]


def test_tree_builder_streams_the_known_roots():
    tb = TreeBuilder()
    assert (tb.size, len(tb), tb.root()) == (0, 0, EMPTY_ROOT)
    for size, leaf in enumerate(CT_LEAF_HASHES, start=1):
        tb.append(leaf)
        assert tb.size == size
        assert tb.root() == CT_ROOTS[size - 1]
        assert len(tb._stack) == size.bit_count()  # one perfect subtree per one bit


def _inclusion_probes(index, size, proof, root_, leaf):
    """transparency-dev/merkle ``corruptInclusionProof``: every one must be refused."""
    probes = [
        (index - 1, size, root_, leaf, proof),
        (index + 1, size, root_, leaf, proof),
        (index ^ 2, size, root_, leaf, proof),
        (index, size * 2, root_, leaf, proof),
        (index, size // 2, root_, leaf, proof),
        (index, size, root_, b"WrongLeaf", proof),
        (index, size, EMPTY_ROOT, leaf, proof),
        (index, size, SOME_HASH, leaf, proof),
        (index, size, root_, leaf, [*proof, b""]),
        (index, size, root_, leaf, [*proof, root_]),
        (index, size, root_, leaf, [b"", *proof]),
        (index, size, root_, leaf, [root_, *proof]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        probes.append((index, size, root_, leaf, wrong))
    if proof:
        probes.append((index, size, root_, leaf, proof[:-1]))
    if len(proof) > 1:
        probes.append((index, size, root_, leaf, [proof[0], SOME_HASH, *proof[1:]]))
    return probes


@pytest.mark.parametrize(("index", "size", "proof"), CT_INCLUSION)
def test_known_inclusion_proofs(index, size, proof):
    leaves = CT_LEAF_HASHES[:size]
    assert inclusion_proof(leaves, index) == proof
    leaf, root_ = CT_LEAF_HASHES[index], CT_ROOTS[size - 1]
    assert verify_inclusion(leaf, index, size, proof, root_)
    for p_index, p_size, p_root, p_leaf, p_proof in _inclusion_probes(
            index, size, proof, root_, leaf):
        assert not verify_inclusion(p_leaf, p_index, p_size, p_proof, p_root), (
            p_index, p_size, p_root, p_leaf, p_proof)


def _consistency_probes(size1, size2, root1, root2, proof):
    """transparency-dev/merkle ``corruptConsistencyProof``: every one must be refused."""
    probes = [
        (size1 - 1, size2, root1, root2, proof),
        (size1 + 1, size2, root1, root2, proof),
        (size1 ^ 2, size2, root1, root2, proof),
        (size1, size2 * 2, root1, root2, proof),
        (size1, size2 // 2, root1, root2, proof),
        (size1, size2, b"WrongRoot", root2, proof),
        (size1, size2, root1, b"WrongRoot", proof),
        (size1, size2, root2, root1, proof),
        (size1, size2, root1, root2, []),
        (size1, size2, root1, root2, [*proof, b""]),
        (size1, size2, root1, root2, [*proof, root1]),
        (size1, size2, root1, root2, [*proof, root2]),
        (size1, size2, root1, root2, [b"", *proof]),
        (size1, size2, root1, root2, [root1, *proof]),
        (size1, size2, root1, root2, [root2, *proof]),
        (size1, size2, root1, root2, [proof[0], *proof]),
        (size1, size2, root1, root2, proof[:-1]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        probes.append((size1, size2, root1, root2, wrong))
    return probes


@pytest.mark.parametrize(("size1", "size2", "proof"), CT_CONSISTENCY)
def test_known_consistency_proofs(size1, size2, proof):
    assert consistency_proof(CT_LEAF_HASHES[:size2], size1) == proof
    root1, root2 = CT_ROOTS[size1 - 1], CT_ROOTS[size2 - 1]
    assert verify_consistency(size1, size2, root1, root2, proof)
    if not proof:
        return
    for p_size1, p_size2, p_root1, p_root2, p_proof in _consistency_probes(
            size1, size2, root1, root2, proof):
        assert not verify_consistency(p_size1, p_size2, p_root1, p_root2, p_proof), (
            p_size1, p_size2, p_root1, p_root2, p_proof)


def test_known_inclusion_proof_from_a_real_log():
    args = (CT_LOG_LEAF_HASH, CT_LOG_LEAF_INDEX, CT_LOG_TREE_SIZE, CT_LOG_AUDIT_PATH)
    assert verify_inclusion(*args, CT_LOG_ROOT)
    assert not verify_inclusion(*args, b"\x00" * 32)
    for p_index, p_size, p_root, p_leaf, p_proof in _inclusion_probes(
            CT_LOG_LEAF_INDEX, CT_LOG_TREE_SIZE, CT_LOG_AUDIT_PATH, CT_LOG_ROOT,
            CT_LOG_LEAF_HASH):
        assert not verify_inclusion(p_leaf, p_index, p_size, p_proof, p_root)
    # "too short proof": an index past the end of the tree
    too_far = CT_LOG_LEAF_INDEX + 2 ** (len(CT_LOG_AUDIT_PATH) + 1)
    assert not verify_inclusion(CT_LOG_LEAF_HASH, too_far, CT_LOG_TREE_SIZE,
                                CT_LOG_AUDIT_PATH, CT_LOG_ROOT)


# ------------------------------------------------------------------------ edge cases


def test_verify_inclusion_edge_cases():
    a = leaf_hash(b"data")
    # A one-leaf tree: root == leaf hash, empty proof (verify_test.go SingleEntry).
    assert verify_inclusion(a, 0, 1, [], a)
    assert not verify_inclusion(a, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], a)
    assert not verify_inclusion(b"", 0, 1, [], b"")
    # Bad (index, size) pairs, including the empty tree (verify_test.go VerifyInclusion).
    for index, size in [(0, 0), (1, 0), (2, 1), (-1, 1), (1, 1), (5, 3)]:
        assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)
        assert not verify_inclusion(SOME_HASH, index, size, [], SOME_HASH)
    # Malformed arguments are refused, never raised on.
    r = CT_ROOTS[7]
    good = CT_INCLUSION[1][2]
    leaf = CT_LEAF_HASHES[0]
    assert verify_inclusion(bytearray(leaf), 0, 8, [memoryview(p) for p in good], bytearray(r))
    for bad in [
        (leaf, 0, 8, None, r),
        (leaf, 0, 8, 42, r),
        (leaf, 0, 8, b"".join(good), r),
        (leaf, 0, 8, "abc", r),
        (leaf, 0, 8, [*good[:2], good[2].hex()], r),
        (leaf, 0, 8, [*good[:2], None], r),
        (leaf, 0, 8, [*good[:2], good[2] + b"\x00"], r),
        (leaf, 0, 8, good, r.hex()),
        (leaf.hex(), 0, 8, good, r),
        (None, 0, 8, good, r),
        (leaf, "0", 8, good, r),
        (leaf, 0.0, 8, good, r),
        (leaf, 0, 8.0, good, r),
        (leaf, False, 8, good, r),
        (leaf, 0, None, good, r),
        (leaf, 0, 8, [good[0]] * 10_000, r),
    ]:
        assert verify_inclusion(*bad) is False


def test_verify_consistency_edge_cases():
    r1, r2 = CT_ROOTS[0], CT_ROOTS[1]
    # Equal sizes: consistent iff the roots are equal and the proof is empty.
    assert verify_consistency(1, 1, r1, r1, [])
    assert verify_consistency(2, 2, r2, r2, [])
    assert not verify_consistency(1, 1, r1, r2, [])
    assert not verify_consistency(1, 1, r1, r1, [EMPTY_ROOT])
    # The empty tree is a prefix of every tree (its root is EMPTY_ROOT).
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 1, EMPTY_ROOT, r1, [])
    assert verify_consistency(0, 8, EMPTY_ROOT, CT_ROOTS[7], [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, r2, [])
    assert not verify_consistency(0, 1, r1, r1, [])
    assert not verify_consistency(0, 1, EMPTY_ROOT, r1, [EMPTY_ROOT])
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    # Time travel to the past, negative sizes.
    assert not verify_consistency(1, 0, r1, EMPTY_ROOT, [])
    assert not verify_consistency(2, 1, r2, r1, [])
    assert not verify_consistency(-1, 1, EMPTY_ROOT, r1, [])
    # An empty proof proves nothing for 0 < size1 < size2.
    assert not verify_consistency(1, 2, r1, r2, [])
    # Malformed arguments are refused, never raised on.
    size1, size2, proof = CT_CONSISTENCY[2]
    a, b = CT_ROOTS[size1 - 1], CT_ROOTS[size2 - 1]
    assert verify_consistency(size1, size2, bytearray(a), memoryview(b), tuple(proof))
    for bad in [
        (size1, size2, a, b, None),
        (size1, size2, a, b, 7),
        (size1, size2, a, b, b"".join(proof)),
        (size1, size2, a, b, [*proof[:2], None]),
        (size1, size2, a, b, [*proof[:2], proof[2][:31]]),
        (size1, size2, a.hex(), b, proof),
        (size1, size2, a, None, proof),
        (str(size1), size2, a, b, proof),
        (size1, float(size2), a, b, proof),
        (True, size2, a, b, proof),
        (size1, size2, a, b, [proof[0]] * 10_000),
        (0, 0, b"", b"", []),
    ]:
        assert verify_consistency(*bad) is False


def test_generation_refuses_bad_arguments():
    leaves = CT_LEAF_HASHES
    for index in (-1, 8, 100):
        with pytest.raises(ValueError):
            inclusion_proof(leaves, index)
    with pytest.raises(ValueError):
        inclusion_proof([], 0)
    for old_size in (-1, 9):
        with pytest.raises(ValueError):
            consistency_proof(leaves, old_size)
    with pytest.raises(TypeError):
        inclusion_proof(leaves, 1.0)
    with pytest.raises(TypeError):
        consistency_proof(leaves, "1")
    assert consistency_proof(leaves, 0) == [] == consistency_proof(leaves, 8)
    assert consistency_proof([], 0) == []
    # Raw data instead of leaf hashes is refused.
    with pytest.raises(ValueError):
        root(CT_LEAVES)
    with pytest.raises(ValueError):
        inclusion_proof(CT_LEAVES, 3)
    with pytest.raises(ValueError):
        TreeBuilder().append(b"raw")
    with pytest.raises(TypeError):
        root(["00" * 32])


# -------------------------------------- the RFC's recursive definitions, transliterated


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _ref_mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return node_hash(_ref_mth(d[:k]), _ref_mth(d[k:]))


def _ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return _ref_path(m, d[:k]) + [_ref_mth(d[k:])]
    return _ref_path(m - k, d[k:]) + [_ref_mth(d[:k])]


def _ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [_ref_mth(d)]
    k = _k(n)
    if m <= k:
        return _ref_subproof(m, d[:k], b) + [_ref_mth(d[k:])]
    return _ref_subproof(m - k, d[k:], False) + [_ref_mth(d[:k])]


def _leaves(n: int, salt: int = 0) -> list[bytes]:
    prefix = salt.to_bytes(8, "big")
    return [leaf_hash(prefix + i.to_bytes(4, "big")) for i in range(n)]


def test_generation_matches_the_rfc_recursion():
    leaves = _leaves(40)
    for n in range(0, 41):
        d = leaves[:n]
        assert root(d) == _ref_mth(d)
        for m in range(n):
            assert inclusion_proof(d, m) == _ref_path(m, d), (m, n)
        for m in range(1, n + 1):
            assert consistency_proof(d, m) == _ref_subproof(m, d, True), (m, n)


# ------------------------------------------------------------------------ properties


def _flip(value: bytes, position: int, mask: int) -> bytes:
    out = bytearray(value)
    out[position % len(out)] ^= mask
    return bytes(out)


masks = st.integers(min_value=1, max_value=255)
positions = st.integers(min_value=0, max_value=31)
salts = st.integers(min_value=0, max_value=2**32)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=300), salt=salts)
def test_inclusion_proofs_verify_and_tampering_fails(data, size, salt):
    leaves = _leaves(size, salt)
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    r = root(leaves)
    leaf = leaves[index]
    proof = inclusion_proof(leaves, index)
    assert len(proof) <= (size - 1).bit_length()
    assert verify_inclusion(leaf, index, size, proof, r)

    pos, mask = data.draw(positions, label="position"), data.draw(masks, label="mask")
    assert not verify_inclusion(_flip(leaf, pos, mask), index, size, proof, r)
    assert not verify_inclusion(leaf, index, size, proof, _flip(r, pos, mask))
    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
        tampered = list(proof)
        tampered[i] = _flip(tampered[i], pos, mask)
        assert not verify_inclusion(leaf, index, size, tampered, r)
        assert not verify_inclusion(leaf, index, size, proof[:-1], r)
    assert not verify_inclusion(leaf, index, size, [*proof, leaf], r)
    # Any other index: every single-bit change and every flipped byte of its encoding.
    for bit in range(max(size.bit_length(), 1) + 1):
        assert not verify_inclusion(leaf, index ^ (1 << bit), size, proof, r)
    idx_bytes = index.to_bytes(8, "big")
    other = int.from_bytes(_flip(idx_bytes, 7 - pos % 8, mask), "big")
    assert not verify_inclusion(leaf, other, size, proof, r)
    # Another leaf of the tree cannot use this leaf's proof.
    if size > 1:
        j = data.draw(st.integers(min_value=0, max_value=size - 1).filter(
            lambda j: j != index), label="other leaf")
        assert not verify_inclusion(leaves[j], index, size, proof, r)
        assert not verify_inclusion(leaves[j], j, size, proof, r)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), new_size=st.integers(min_value=1, max_value=300), salt=salts)
def test_consistency_proofs_verify_and_tampering_fails(data, new_size, salt):
    leaves = _leaves(new_size, salt)
    old_size = data.draw(st.integers(min_value=0, max_value=new_size), label="old_size")
    old_root, new_root = root(leaves[:old_size]), root(leaves)
    proof = consistency_proof(leaves, old_size)
    assert verify_consistency(old_size, new_size, old_root, new_root, proof)

    pos, mask = data.draw(positions, label="position"), data.draw(masks, label="mask")
    assert not verify_consistency(old_size, new_size, _flip(old_root, pos, mask),
                                  new_root, proof)
    if 0 < old_size < new_size:  # nothing about the new tree is provable from size 0
        assert not verify_consistency(old_size, new_size, old_root,
                                      _flip(new_root, pos, mask), proof)
    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
        tampered = list(proof)
        tampered[i] = _flip(tampered[i], pos, mask)
        assert not verify_consistency(old_size, new_size, old_root, new_root, tampered)
        assert not verify_consistency(old_size, new_size, old_root, new_root, proof[:-1])
        assert not verify_consistency(old_size, new_size, old_root, new_root,
                                      [*proof, proof[0]])
    # A log that rewrote one of the old entries is caught, whichever proof it sends.
    if old_size > 0:
        j = data.draw(st.integers(min_value=0, max_value=old_size - 1), label="rewritten")
        forged = list(leaves)
        forged[j] = leaf_hash(b"rewritten" + forged[j])
        forged_root = root(forged)
        assert forged_root != new_root
        assert not verify_consistency(old_size, new_size, old_root, forged_root,
                                      consistency_proof(forged, old_size))
        assert not verify_consistency(old_size, new_size, old_root, forged_root, proof)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), size1=st.integers(min_value=1, max_value=300),
       size2=st.integers(min_value=1, max_value=300), salt=salts)
def test_consistency_proofs_are_bound_to_their_sizes(data, size1, size2, salt):
    size1, size2 = min(size1, size2), max(size1, size2)
    leaves = _leaves(size2, salt)
    r1, r2 = root(leaves[:size1]), root(leaves)
    proof = consistency_proof(leaves, size1)
    assert verify_consistency(size1, size2, r1, r2, proof)
    delta = data.draw(st.integers(min_value=-size1, max_value=300).filter(bool), label="d")
    assert not verify_consistency(size1 + delta, size2, r1, r2, proof)


def test_tree_builder_matches_root_at_every_size():
    leaves = _leaves(300, salt=7)
    tb = TreeBuilder()
    assert tb.root() == root([]) == EMPTY_ROOT
    for n, leaf in enumerate(leaves, start=1):
        tb.append(leaf)
        assert tb.size == n
        assert tb.root() == root(leaves[:n]), n


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=70))
def test_tree_builder_matches_root_for_any_data(entries):
    leaves = [leaf_hash(e) for e in entries]
    tb = TreeBuilder()
    for n, leaf in enumerate(leaves, start=1):
        tb.append(leaf)
        assert tb.root() == root(leaves[:n]) == _ref_mth(leaves[:n])
    assert TreeBuilder(leaves).root() == root(leaves)


# ------------------------------------------------------------------------- big trees


def _depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def test_large_tree_needs_no_recursion():
    n = 200_000
    leaves = _leaves(n, salt=1)
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_depth() + 30)  # any recursion deeper than a few frames fails
    try:
        r = root(leaves)
        tb = TreeBuilder()
        tb.extend(leaves)
        index = 123_457
        proof = inclusion_proof(leaves, index)
        cproof = consistency_proof(leaves, 131_073)
    finally:
        sys.setrecursionlimit(old_limit)
    assert tb.size == n and tb.root() == r
    assert len(proof) == 18
    assert verify_inclusion(leaves[index], index, n, proof, r)
    assert verify_consistency(131_073, n, root(leaves[:131_073]), r, cproof)
