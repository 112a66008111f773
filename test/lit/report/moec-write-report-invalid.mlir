// RUN: rm -rf %t && mkdir -p %t
// RUN: moec-opt %s --split-input-file --moec-write-report="output=%t/no-such-dir/report.md" --verify-diagnostics -o /dev/null
// RUN: not moec-opt %s --split-input-file --moec-write-report="format=html" -o /dev/null 2>&1 | FileCheck %s --check-prefix=FORMAT

// Tests that a report that cannot be written is an error naming the file
// (the first RUN line's directory does not exist).
// expected-error @+1 {{cannot write the compile report '}}
module {
  func.func @main(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
    %y = kernel.launch "softmax"(%x) {spec = {axis = 1 : i64}} : (tensor<?x8xf32>) -> tensor<?x8xf32>
    return %y : tensor<?x8xf32>
  }
}

// -----

// Tests that a tensor whose size is not affine in the token count (two
// dynamic dimensions) is reported at its launch.
module {
  func.func @main(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
    // expected-error @+1 {{compile report: the size of 'tensor<?x?xf32>' is not affine in the token count}}
    %y = kernel.launch "softmax"(%x) {spec = {axis = 1 : i64}} : (tensor<?x?xf32>) -> tensor<?x?xf32>
    return %y : tensor<?x?xf32>
  }
}

// -----

// Tests that a hand-written moec.unfused that is not what
// moec-record-unfused writes is refused, not misread.
module {
  // expected-error @+1 {{compile report: malformed 'moec.unfused' attribute}}
  func.func @main(%x: tensor<?x8xf32>) -> tensor<?x8xf32> attributes {moec.unfused = {launches = 3 : i64}} {
    %y = kernel.launch "softmax"(%x) {spec = {axis = 1 : i64}} : (tensor<?x8xf32>) -> tensor<?x8xf32>
    return %y : tensor<?x8xf32>
  }
}

// FORMAT-COUNT-3: moec-write-report: format must be markdown or json, got 'html'
