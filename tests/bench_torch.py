#!/usr/bin/env python3
"""bench_torch.py - the PyTorch twin of the training step that `make bench`
times (tests/bench_main.c), for its PyTorch columns.

The same model, batch and optimiser as the C step: torch.nn.Transformer with
d_model 128, 4 heads, d_ff 512, 3 encoder and 3 decoder layers, post-norm,
dropout 0 (batch_first); source and target embeddings of a vocabulary of 40
scaled by sqrt(d_model), sinusoidal positions, a linear generator; a batch
of 64 pairs of length 10 with random ids in [1, 40) (no padding, but the
padding masks are built and passed as the C model does); the causal mask;
cross-entropy with ignore_index 0 and label smoothing 0.1; Adam with betas
(0.9, 0.98), eps 1e-9. One step: zero_grad, forward, loss, backward, Adam.

It runs one warm-up step, then --steps timed steps, and prints one line:
    step_ms <median milliseconds> peak_rss_kb <peak resident memory> torch <version>
(the memory is the whole process: the interpreter and libtorch included).

Run from the repository root:
    /usr/bin/python3 tests/bench_torch.py --threads 1 --steps 5
Seed: torch.manual_seed(1).
"""
import argparse
import math
import resource
import statistics
import time

import torch

E, HEADS, FF, LAYERS, VOCAB, BATCH, LEN = 128, 4, 512, 3, 40, 64, 10


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.src_embed = torch.nn.Embedding(VOCAB, E)
        self.tgt_embed = torch.nn.Embedding(VOCAB, E)
        self.transformer = torch.nn.Transformer(
            d_model=E, nhead=HEADS, num_encoder_layers=LAYERS, num_decoder_layers=LAYERS,
            dim_feedforward=FF, dropout=0.0, batch_first=True)
        self.generator = torch.nn.Linear(E, VOCAB)
        pos = torch.arange(LEN, dtype=torch.float32)[:, None]
        div = torch.exp(torch.arange(0, E, 2, dtype=torch.float32) * (-math.log(10000.0) / E))
        pe = torch.zeros(LEN, E)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        self.register_buffer("pe", pe)

    def forward(self, src, tgt):
        scale = math.sqrt(E)
        x = self.src_embed(src) * scale + self.pe[: src.shape[1]]
        y = self.tgt_embed(tgt) * scale + self.pe[: tgt.shape[1]]
        causal = self.transformer.generate_square_subsequent_mask(tgt.shape[1])
        out = self.transformer(x, y, tgt_mask=causal, src_key_padding_mask=src == 0,
                               tgt_key_padding_mask=tgt == 0, memory_key_padding_mask=src == 0)
        return self.generator(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)

    model = Model()
    src = torch.randint(1, VOCAB, (BATCH, LEN))
    tgt = torch.randint(1, VOCAB, (BATCH, LEN))
    tgt_out = torch.randint(1, VOCAB, (BATCH, LEN))
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=0, label_smoothing=0.1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)

    times = []
    for k in range(-1, args.steps):   # step -1 is the warm-up
        start = time.perf_counter()
        opt.zero_grad()
        logits = model(src, tgt)
        loss = loss_fn(logits.reshape(-1, VOCAB), tgt_out.reshape(-1))
        loss.backward()
        opt.step()
        if k >= 0:
            times.append(time.perf_counter() - start)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("step_ms %.3f peak_rss_kb %d torch %s"
          % (1e3 * statistics.median(times), rss_kb, torch.__version__))


if __name__ == "__main__":
    main()
