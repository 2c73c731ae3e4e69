"""Loaders for the public research datasets, one per format, each returning a SocialDataset.

``load_dataset(name)`` / ``available_datasets()`` / ``summarize_datasets()`` work on a folder
laid out like ``shared/data`` (``$S3KIT_DATA_DIR``); ``fetch_dataset(name)`` downloads one.
Your own data: the tidy folder format (:mod:`.tidy`, ``SocialDataset.to_dir``), converters
from common exports (:mod:`.convert`) and a streaming checker (:mod:`.validate`,
``validate_folder``). See docs/datasets.md for formats, time zones and choices.
"""

from .base import SocialDataset, data_dir
from .ced import load_ced
from .clue import load_clue_emotion
from .fetch import fetch_dataset
from .mcid import load_mcid
from .nlpcc import load_nlpcc_stance
from .registry import available_datasets, dataset_format, load_dataset, summarize_datasets
from .rumoureval import load_rumoureval
from .tidy import is_tidy_folder, load_tidy
from .tweeteval import load_tweeteval
from .twitter_gender import load_twitter_gender
from .twitter_trees import load_twitter_trees
from .validate import validate_folder

__all__ = [
    "SocialDataset",
    "available_datasets",
    "data_dir",
    "dataset_format",
    "fetch_dataset",
    "is_tidy_folder",
    "load_ced",
    "load_clue_emotion",
    "load_dataset",
    "load_mcid",
    "load_nlpcc_stance",
    "load_rumoureval",
    "load_tidy",
    "load_tweeteval",
    "load_twitter_gender",
    "load_twitter_trees",
    "summarize_datasets",
    "validate_folder",
]
