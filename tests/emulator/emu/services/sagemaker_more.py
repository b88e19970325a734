# SPDX-License-Identifier: Apache-2.0
"""(being written)"""


def fresh_state():
    return {}


HANDLERS = {}
