"""Hypothesis strategies for answers the detection API can give, odd ones included."""

from __future__ import annotations

from hypothesis import strategies as st

from sdclient import API


def _floats():
    return st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))


def _objects():
    return st.builds(
        API.DetectedObject,
        name=st.one_of(st.none(), st.text(max_size=8)),
        objectId=st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
        top=_floats(),
        left=_floats(),
        bottom=_floats(),
        right=_floats(),
        frameIndex=st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
        confidence=_floats(),
    )


def detection_outputs() -> st.SearchStrategy:
    """DetectionOutputs a server could send: any field left out, any float, any id."""
    objects = st.lists(_objects(), max_size=4)
    pair = st.builds(
        API.SocialDistanceViolation,
        first=st.one_of(st.none(), _objects()),
        second=st.one_of(st.none(), _objects()),
    )
    return st.builds(
        API.DetectionOutput,
        status=st.one_of(st.just(API.ResultCode.SUCCESS), st.integers(-5, 20)),
        objDetResult=st.one_of(st.none(), st.builds(API.ObjectDetectionResult, objects=objects)),
        socialDetResult=st.one_of(
            st.none(), st.builds(API.SocialDistanceResult, violations=st.lists(pair, max_size=3))
        ),
        maskDetResult=st.one_of(st.none(), st.builds(API.MaskDetectionResult, objects=objects)),
    )
