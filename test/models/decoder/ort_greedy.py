"""Greedy decoding of a decoder fixture in onnxruntime-genai form, with onnxruntime's CPU provider.
numpy + onnxruntime only, so tests can import it without torch:

    import ort_greedy
    run = ort_greedy.greedy("test/models/decoder/mixtral.onnx", prompt, new_tokens=8)
    run.tokens, run.step_logits, run.prefill_logits

The graphs (written by test/models/make_decoder_models.py) take
    input_ids              int64   [1, tokens]
    seqlens_k              int32   [1]        total length after this call, minus 1
    total_sequence_length  int32   []         total length after this call
    past_key_values.{i}.key / .value  float32 [1, kv_heads, capacity, head_dim]
and return logits [1, tokens, vocab] and present.{i}.key / .value with the same static shape as
the past. Only the first `total` positions of a cache are meaningful; the rest is ignored by the
graph (GroupQueryAttention reads positions < total), so a caller may leave anything there.

One run = a prefill of the whole prompt, then one token at a time, each step feeding the
previous step's present.* back as past_key_values.*. Step s picks argmax of the last row of the
logits it got; step 0's logits are the prefill's last row.
"""

import numpy as np
import onnxruntime as ort

PAST_PREFIX = "past_key_values."
PRESENT_PREFIX = "present."


def session(model, threads=1):
    """A CPU session with one thread (one summation order, so runs repeat bit for bit) and the
    default graph optimizations, as onnxruntime-genai would run it on CPU."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


class GreedyRun:
    """What one greedy run produced: tokens int64 [n], step_logits float32 [n, vocab] (the
    logits each step chose from), prefill_logits float32 [1, prompt, vocab]."""

    def __init__(self, tokens, step_logits, prefill_logits):
        self.tokens = tokens
        self.step_logits = step_logits
        self.prefill_logits = prefill_logits


def cache_inputs(sess):
    """{past input name: (shape, present output name)} in the session's input order. Raises
    ValueError naming the input when a cache shape is not static or has no matching present."""
    outputs = {o.name for o in sess.get_outputs()}
    caches = {}
    for i in sess.get_inputs():
        if not i.name.startswith(PAST_PREFIX):
            continue
        if not all(isinstance(d, int) for d in i.shape):
            raise ValueError(f"input {i.name}: shape {i.shape} is not static (capacity expected)")
        present = PRESENT_PREFIX + i.name[len(PAST_PREFIX):]
        if present not in outputs:
            raise ValueError(f"input {i.name}: no output {present}")
        caches[i.name] = (tuple(i.shape), present)
    if not caches:
        raise ValueError(f"no {PAST_PREFIX}* inputs")
    return caches


def capacity(sess):
    """The cache's sequence capacity (dimension 2 of every past input)."""
    caps = {shape[2] for shape, _ in cache_inputs(sess).values()}
    if len(caps) != 1:
        raise ValueError(f"past inputs disagree on the capacity: {sorted(caps)}")
    return caps.pop()


def greedy(model, prompt, new_tokens, past_fill=0.0, threads=1):
    """Greedy decoding of new_tokens tokens after prompt (int64 [P]). model: a path, the
    serialized model (bytes) or an onnxruntime session. past_fill: what the initial cache
    holds (every position is beyond the current length, so any value, NaN included, must
    leave the result unchanged)."""
    sess = session(model, threads) if isinstance(model, (str, bytes)) else model
    caches = cache_inputs(sess)
    cap = capacity(sess)
    prompt = np.asarray(prompt, dtype=np.int64).reshape(-1)
    if prompt.size + new_tokens - 1 > cap:
        raise ValueError(f"prompt {prompt.size} + {new_tokens - 1} decode steps exceed the "
                         f"cache capacity {cap}")
    out_names = [o.name for o in sess.get_outputs()]
    past = {name: np.full(shape, past_fill, np.float32) for name, (shape, _) in caches.items()}
    ids = prompt[None, :]
    total = prompt.size
    tokens, step_logits, prefill = [], [], None
    for step in range(new_tokens):
        feeds = {"input_ids": ids,
                 "seqlens_k": np.array([total - 1], np.int32),
                 "total_sequence_length": np.array(total, np.int32)}
        feeds.update(past)
        got = dict(zip(out_names, sess.run(None, feeds)))
        logits = got["logits"]
        if step == 0:
            prefill = logits
        row = logits[0, -1]
        token = int(np.argmax(row))
        tokens.append(token)
        step_logits.append(row)
        past = {name: got[present] for name, (_, present) in caches.items()}
        ids = np.array([[token]], np.int64)
        total += 1
    return GreedyRun(np.array(tokens, np.int64), np.stack(step_logits).astype(np.float32),
                     prefill.astype(np.float32))


def relative_error(got, want):
    """max |got - want| / max |want| in float64: one number per compared tensor, scaled by the
    tensor's own magnitude (logits are O(1) here, so this is close to an absolute error)."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    if got.shape != want.shape:
        raise ValueError(f"shape {got.shape} vs {want.shape}")
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def compare(run, ref):
    """Errors of a GreedyRun against a .ref.npz's arrays (a dict-like of numpy arrays):
    {"prefill": float, "steps": [float per step], "tokens_equal": bool}."""
    steps = [relative_error(run.step_logits[s], ref["hf_step_logits"][s])
             for s in range(ref["hf_step_logits"].shape[0])]
    return {"prefill": relative_error(run.prefill_logits, ref["hf_prefill_logits"]),
            "steps": steps,
            "tokens_equal": bool(np.array_equal(run.tokens, ref["hf_tokens"]))}
