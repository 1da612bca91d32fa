"""Source templates of the composer's `Net` and decoders (string.Template, `$name` fields).

The rendered code must be plain, readable PyTorch that follows the Net API: it is
what a user opens to see what the composer built, and what the trial imports.
"""

from __future__ import annotations

from dataclasses import dataclass

NET_TEMPLATE = '''\
ENCODER_WIDTH = $width
GRID_SIDE = $grid  # the backbone grid is pooled to GRID_SIDE x GRID_SIDE memory cells
HIDDEN = $hidden
EMBED = $embed
LAYERS = $layers
MAX_POSITIONS = $max_positions
MAX_DECODE_LEN = $max_decode_len
PAD_ID = $pad_id
SOS_ID = $sos_id


def supported_hyperparameters():
    return {$hyperparameters}


class Net(nn.Module):
    """Captioner: $summary."""

    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.vocab_size = out_shape[0]
        dropout = prm["dropout"]
        self.encoder = Features(in_shape[1], ENCODER_WIDTH)
        self.pool = nn.AdaptiveAvgPool2d(GRID_SIDE)
        self.project = nn.Sequential(nn.Linear(self.encoder.out_channels, HIDDEN), nn.ReLU(), nn.Dropout(dropout))
        self.embed = nn.Embedding(self.vocab_size, EMBED, padding_idx=PAD_ID)
        self.drop = nn.Dropout(dropout)
$decoder_init
        self.to(device)

    def encode(self, images):
        grid = self.pool(self.encoder(images))  # [B, C, g, g]
        memory = grid.flatten(2).transpose(1, 2)  # [B, g*g, C]
        return self.project(memory)  # [B, M, HIDDEN]

$decoder_body

    def forward(self, images, captions=None, hidden_state=None):
        memory = self.encode(images.to(self.device))
        if captions is None:
            return self.greedy(memory)
        if captions.dim() == 3:
            captions = captions[:, 0]  # the first of N references
        return self.decode(memory, captions[:, :-1].to(self.device))  # [B, T-1, V]

    @torch.no_grad()
    def greedy(self, memory):
        tokens = torch.full((memory.size(0), 1), SOS_ID, dtype=torch.long, device=memory.device)
        for _ in range(MAX_DECODE_LEN):
            logits = self.decode(memory, tokens)[:, -1]  # [B, V]
            tokens = torch.cat([tokens, logits.argmax(-1, keepdim=True)], dim=1)
        return tokens[:, 1:]  # [B, L]

    def train_setup(self, prm):
        self.to(self.device)
        self.criterion = nn.CrossEntropyLoss(ignore_index=PAD_ID)
        self.optimizer = $optimizer

    def learn(self, train_data):
        self.train()
        total, batches = 0.0, 0
        for images, captions in train_data:
            captions = captions.to(self.device)
            if captions.dim() == 3:
                captions = captions[:, 0]
            logits = self.forward(images, captions)  # [B, T-1, V]
            loss = self.criterion(logits.reshape(-1, self.vocab_size), captions[:, 1:].reshape(-1))
            self.optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 5.0)
            self.optimizer.step()
            total += loss.item()
            batches += 1
        return total / max(1, batches)
'''


@dataclass(frozen=True)
class DecoderTemplate:
    init: str  # lines of __init__, indented 8 spaces; may use $layers
    body: str  # methods, indented 4 spaces; must define decode(memory, tokens) -> [B, T, V]


_RNN_POOLED_INIT = '''\
        self.init_state = nn.Linear(HIDDEN, HIDDEN * LAYERS)
        self.rnn = nn.{cell}(EMBED + HIDDEN, HIDDEN, num_layers=LAYERS, batch_first=True, dropout=dropout if LAYERS > 1 else 0.0)
        self.out = nn.Linear(HIDDEN, self.vocab_size)'''

_RNN_POOLED_BODY = '''\
    def decode(self, memory, tokens):
        context = memory.mean(dim=1)  # [B, HIDDEN]
        h0 = torch.tanh(self.init_state(context)).view(-1, LAYERS, HIDDEN).transpose(0, 1).contiguous()
        state = {state}
        words = self.embed(tokens)  # [B, T, EMBED]
        inputs = torch.cat([words, context.unsqueeze(1).expand(-1, words.size(1), -1)], dim=-1)
        outputs, _ = self.rnn(inputs, state)  # [B, T, HIDDEN]
        return self.out(self.drop(outputs))  # [B, T, V]'''

_RNN_ATTENTION_INIT = '''\
        self.init_state = nn.Linear(HIDDEN, HIDDEN)
        self.att_key = nn.Linear(HIDDEN, HIDDEN)
        self.att_query = nn.Linear(HIDDEN, HIDDEN)
        self.att_score = nn.Linear(HIDDEN, 1)
        self.cells = nn.ModuleList(nn.{cell}(EMBED + HIDDEN if i == 0 else HIDDEN, HIDDEN) for i in range(LAYERS))
        self.out = nn.Linear(2 * HIDDEN, self.vocab_size)'''

_RNN_ATTENTION_BODY = '''\
    def attend(self, keys, memory, query):
        scores = self.att_score(torch.tanh(keys + self.att_query(query).unsqueeze(1))).squeeze(-1)  # [B, M]
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights.unsqueeze(1), memory).squeeze(1)  # [B, HIDDEN]

    def decode(self, memory, tokens):
        keys = self.att_key(memory)  # [B, M, HIDDEN]
        h = torch.tanh(self.init_state(memory.mean(dim=1)))
        states = [{initial} for _ in range(LAYERS)]
        words = self.embed(tokens)  # [B, T, EMBED]
        logits = []
        for t in range(tokens.size(1)):
            top = {top}
            context = self.attend(keys, memory, top)
            layer_input = torch.cat([words[:, t], context], dim=-1)
            for i, cell in enumerate(self.cells):
                states[i] = cell(layer_input, states[i])
                layer_input = self.drop({top_of_i})
            logits.append(self.out(torch.cat([layer_input, context], dim=-1)))
        return torch.stack(logits, dim=1)  # [B, T, V]'''

_TRANSFORMER_INIT = '''\
        self.token_position = nn.Parameter(torch.zeros(1, MAX_POSITIONS, HIDDEN))
        self.memory_position = nn.Parameter(torch.zeros(1, GRID_SIDE * GRID_SIDE, HIDDEN))
        nn.init.normal_(self.token_position, std=0.02)
        nn.init.normal_(self.memory_position, std=0.02)
        layer = nn.TransformerDecoderLayer(HIDDEN, 4, 2 * HIDDEN, dropout, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, LAYERS)
        self.norm = nn.LayerNorm(HIDDEN)
        self.out = nn.Linear(HIDDEN, self.vocab_size)'''

_TRANSFORMER_BODY = '''\
    def decode(self, memory, tokens):
        length = tokens.size(1)
        words = self.embed(tokens) + self.token_position[:, :length]  # [B, T, HIDDEN]
        causal = nn.Transformer.generate_square_subsequent_mask(length, device=tokens.device)
        outputs = self.decoder(words, memory + self.memory_position, tgt_mask=causal, tgt_is_causal=True)
        return self.out(self.norm(outputs))  # [B, T, V]'''


def _rnn(cell: str, features: str) -> DecoderTemplate:
    lstm = cell == "LSTM"
    if features == "pooled":
        state = "(h0, torch.zeros_like(h0))" if lstm else "h0"
        return DecoderTemplate(_RNN_POOLED_INIT.format(cell=cell), _RNN_POOLED_BODY.format(state=state))
    return DecoderTemplate(
        _RNN_ATTENTION_INIT.format(cell=cell + "Cell"),
        _RNN_ATTENTION_BODY.format(
            initial="(h, torch.zeros_like(h))" if lstm else "h",
            top="states[-1][0]" if lstm else "states[-1]",
            top_of_i="states[i][0]" if lstm else "states[i]",
        ),
    )


DECODERS: dict[tuple[str, str], DecoderTemplate] = {
    ("lstm", "pooled"): _rnn("LSTM", "pooled"),
    ("lstm", "grid"): _rnn("LSTM", "grid"),
    ("gru", "pooled"): _rnn("GRU", "pooled"),
    ("gru", "grid"): _rnn("GRU", "grid"),
    ("transformer", "pooled"): DecoderTemplate(_TRANSFORMER_INIT, _TRANSFORMER_BODY),
    ("transformer", "grid"): DecoderTemplate(_TRANSFORMER_INIT, _TRANSFORMER_BODY),
}
