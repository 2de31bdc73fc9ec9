"""A tiny BERT built offline (a few thousand parameters) for transformer tests that run in seconds.

Import the fixture into a test module: `from .tiny_bert import tiny_bert  # noqa: F401`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SENTENCES = [
    "Police raided a scam compound and arrested the bosses of the call centre.",
    "The fraud ring ran fake crypto investment chats from an office tower.",
    "Prosecutors charged the owners of a compound that ran romance scams.",
    "Investigators seized phones and cash from the online gambling operation.",
    "Immigration deported forty foreign workers on a charter flight home.",
    "The government expelled the nationals and banned them from entering again.",
    "Detained migrants waited in a removal centre before their deportation.",
    "Authorities handed the foreigners over to their home country at the border.",
    "A shelter gave rescued victims food, care and legal aid.",
    "Volunteers helped trafficking survivors return home safely to their families.",
    "The hotline offered support and counselling to people freed from the compound.",
    "Rescued workers received medical help and were reunited with relatives.",
    "The weather was sunny and the market opened early on Monday.",
    "A football team won the league after a long season.",
    "The new bridge across the river opened to traffic this week.",
    "Farmers sold rice and vegetables at the weekly market.",
    "Officials said the raid freed hundreds of trafficked workers who were then deported.",
    "The court sentenced the scam boss to ten years in prison.",
    "Embassy staff arranged flights so that victims could go home.",
    "Police said the compound held workers forced to defraud strangers online.",
    "Thousands of people were repatriated after the crackdown on fraud centres.",
    "Charities provided shelter while the deportation orders were processed.",
    "The minister promised more help for survivors of forced criminality.",
    "Border guards stopped buses carrying people to the scam hubs.",
    "Banks froze accounts linked to the money laundering network.",
    "The city held a festival with music, dancing and street food.",
    "Students returned to school after the long holiday.",
    "Rain flooded several roads near the coast overnight.",
    "Victims told reporters they were beaten if they missed targets.",
    "The report counted raids, arrests, rescues and removals during the year.",
]

# Above what the sentences can fill, so every merge is made and the vocabulary is the same every run.
VOCAB_SIZE = 1000


def build_tiny_bert(folder: Path) -> Path:
    """Train a WordPiece tokenizer on SENTENCES and save it with a randomly initialised tiny BERT."""
    import torch
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import BertConfig, BertModel, BertTokenizerFast

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(SENTENCES, trainers.WordPieceTrainer(vocab_size=VOCAB_SIZE, special_tokens=special))
    # The trainer breaks ties between equally frequent merges in no fixed order, so its partial word
    # pieces vary between runs; whole words and single characters, in sorted order, do not.
    normalized = [tokenizer.normalizer.normalize_str(s) for s in SENTENCES]
    words = {w for s in normalized for w, _ in tokenizer.pre_tokenizer.pre_tokenize_str(s)}
    kept = {p for p in tokenizer.get_vocab() if p in words or len(p.removeprefix("##")) == 1}
    pieces = special + sorted(kept - set(special))
    tokenizer.model = models.WordPiece({piece: i for i, piece in enumerate(pieces)}, unk_token="[UNK]")
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    wrapped = BertTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                sep_token="[SEP]", mask_token="[MASK]", model_max_length=128)
    config = BertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=128,
                        pad_token_id=tokenizer.token_to_id("[PAD]"))
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    wrapped.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """Folder of a tiny BERT base model; pass it as `base_model`. Tests never write into it."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))
