# lit configuration for moec's pass and dialect tests.
import os

import lit.formats

config.name = "moec"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = config.moec_obj_root
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in"]

# moec-opt, moec and the LLVM test tools (FileCheck, not) on PATH.
path = [os.path.join(config.moec_tools_dir, t) for t in ("moec-opt", "moec", "moec-run")]
path += [config.llvm_tools_dir, config.environment.get("PATH", os.environ.get("PATH", ""))]
config.environment["PATH"] = os.pathsep.join(path)
