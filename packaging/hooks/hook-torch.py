"""PyInstaller hook for torch (CPU build), replacing the one in pyinstaller-hooks-contrib.

The contrib hook collects every torch submodule and every data file, which brings torch's C++ headers,
its test programs (torch/test, torch/bin) and the compiler stack (torch._inductor, sympy, ...) into the
bundle: hundreds of MB the app never loads. This hook relies on the normal import analysis instead, keeps
torch's Python sources next to the bytecode (torch reads its own source with `inspect` in places), and
collects only the shared libraries torch loads, without its test libraries. Modules the app never
imports (torch._inductor, torch._dynamo, ...) are excluded in the spec.
"""

import os

from PyInstaller.utils.hooks import (
    PY_DYLIB_PATTERNS,
    collect_data_files,
    collect_dynamic_libs,
    get_package_paths,
)

module_collection_mode = "pyz+py"
warn_on_missing_hiddenimports = False

# Shared libraries torch ships only for its own C++ tests.
_TEST_LIBRARIES = (
    "libjitbackend_test",
    "libtorchbind_test",
    "libbackend_with_compiler",
    "libaoti_custom_ops",
)

datas = collect_data_files(
    "torch",
    excludes=[
        "**/*.h",
        "**/*.hpp",
        "**/*.cuh",
        "**/*.cpp",
        "**/*.lib",
        "**/*.pyi",
        "**/*.cmake",
        "include",
        "bin",
        "test",
        "share",
        "_inductor",
        "utils/benchmark",
        "utils/model_dump",
    ],
)
binaries = [
    (src, dest)
    for src, dest in collect_dynamic_libs("torch", search_patterns=[*PY_DYLIB_PATTERNS, "*.so.*"])
    if not any(name in src for name in _TEST_LIBRARIES)
]
# `import torch` checks that its shared-memory helper exists (torch/bin is otherwise left out: tests).
_shm_manager = os.path.join(get_package_paths("torch")[1], "bin", "torch_shm_manager")
if os.path.isfile(_shm_manager):
    binaries.append((_shm_manager, "torch/bin"))
# torch/lib's libraries must not be symlinked to the top-level folder (see the contrib hook's note).
bindepend_symlink_suppression = ["**/torch/lib/*.so*"]
