;; Scores 64 rows at a time through every tree of a boosted ensemble (QuickScorer with 128-bit
;; SIMD). Source of `_ensemble_kernel_wasm.ts`: `deno run -A scripts/build-ensemble-kernel.ts`.
;;
;; Inputs are bin codes, not feature values: every threshold is a histogram bin edge, so
;; `x <= cuts[f][bin]` ⇔ `code(x) <= bin` with code(x) = the first bin whose edge is ≥ x (NaN: past
;; the last edge). Each tree's leaves are numbered left to right, one bit each (≤ 16 leaves); a
;; node whose test fails (the row goes right) clears the bits of its left subtree's leaves, and the
;; leaf the row reaches is the lowest bit left standing, whatever order the nodes are applied in.
;;
;; Memory layout (byte addresses passed in; all regions written by the caller):
;;   bytes 0..127  scratch: the 64 rows' 16-bit leaf masks of the current tree
;;   nodes         per internal node 8 bytes: i32 feature × 128, u16 bin, u16 left-subtree bits
;;   counts        per tree i32: its number of internal nodes (nodes are stored tree after tree)
;;   leaves        per tree 16 f64 leaf values, in leaf-bit order
;;   codes         per 64-row block, per feature, 64 u16 codes (block stride = width × 128)
;;   acc           per 64-row block, per class, 64 f64 raw scores, holding the bias on entry
;; Codes and bins stay below 2^15, so the signed 16-bit compare (one SSE instruction; the
;; unsigned one is emulated) is exact.
;; Trees are round-major: tree t adds to class t mod classes, so each row's sum for a class is
;; bias + its trees in file order, exactly as the tree walk adds them.
(module
  (memory (export "memory") 1)
  ;; Byte offset (8 × index) of the lowest set bit of each 16-bit lane: the popcount below it.
  (func $leafOffsets (param $m v128) (result v128)
    (i16x8.shl
      (i16x8.extadd_pairwise_i8x16_u
        (i8x16.popcnt
          (i16x8.sub
            (v128.and (local.get $m) (i16x8.sub (v128.const i32x4 0 0 0 0) (local.get $m)))
            (v128.const i16x8 1 1 1 1 1 1 1 1))))
      (i32.const 3)))
  (func (export "score")
    (param $blocks i32) (param $trees i32) (param $classes i32)
    (param $nodes i32) (param $counts i32) (param $leaves i32)
    (param $codes i32) (param $codeStride i32) (param $acc i32)
    (local $b i32) (local $t i32) (local $k i32) (local $np i32) (local $nend i32)
    (local $cb i32) (local $a i32) (local $lp i32) (local $ap i32) (local $ab i32)
    (local $j i32)
    (local $bin v128) (local $clr v128) (local $ix v128) (local $v v128)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128)
    (local $m4 v128) (local $m5 v128) (local $m6 v128) (local $m7 v128)
    (local.set $cb (local.get $codes))
    (local.set $ab (local.get $acc))
    (block $blocksDone
      (loop $blockLoop
        (br_if $blocksDone (i32.ge_u (local.get $b) (local.get $blocks)))
        (local.set $np (local.get $nodes))
        (local.set $lp (local.get $leaves))
        (local.set $t (i32.const 0))
        (local.set $k (i32.const 0))
        (block $treesDone
          (loop $treeLoop
            (br_if $treesDone (i32.ge_u (local.get $t) (local.get $trees)))
            (local.set $m0 (v128.const i32x4 -1 -1 -1 -1))
            (local.set $m1 (v128.const i32x4 -1 -1 -1 -1))
            (local.set $m2 (v128.const i32x4 -1 -1 -1 -1))
            (local.set $m3 (v128.const i32x4 -1 -1 -1 -1))
            (local.set $m4 (v128.const i32x4 -1 -1 -1 -1))
            (local.set $m5 (v128.const i32x4 -1 -1 -1 -1))
            (local.set $m6 (v128.const i32x4 -1 -1 -1 -1))
            (local.set $m7 (v128.const i32x4 -1 -1 -1 -1))
            (local.set $nend
              (i32.add (local.get $np)
                (i32.shl
                  (i32.load (i32.add (local.get $counts) (i32.shl (local.get $t) (i32.const 2))))
                  (i32.const 3))))
            (block $nodesDone
              (loop $nodeLoop
                (br_if $nodesDone (i32.ge_u (local.get $np) (local.get $nend)))
                (local.set $a (i32.add (local.get $cb) (i32.load (local.get $np))))
                (local.set $bin (i16x8.splat (i32.load16_u offset=4 (local.get $np))))
                (local.set $clr (i16x8.splat (i32.load16_u offset=6 (local.get $np))))
                (local.set $m0 (v128.andnot (local.get $m0)
                  (v128.and (i16x8.gt_s (v128.load (local.get $a)) (local.get $bin))
                    (local.get $clr))))
                (local.set $m1 (v128.andnot (local.get $m1)
                  (v128.and (i16x8.gt_s (v128.load offset=16 (local.get $a)) (local.get $bin))
                    (local.get $clr))))
                (local.set $m2 (v128.andnot (local.get $m2)
                  (v128.and (i16x8.gt_s (v128.load offset=32 (local.get $a)) (local.get $bin))
                    (local.get $clr))))
                (local.set $m3 (v128.andnot (local.get $m3)
                  (v128.and (i16x8.gt_s (v128.load offset=48 (local.get $a)) (local.get $bin))
                    (local.get $clr))))
                (local.set $m4 (v128.andnot (local.get $m4)
                  (v128.and (i16x8.gt_s (v128.load offset=64 (local.get $a)) (local.get $bin))
                    (local.get $clr))))
                (local.set $m5 (v128.andnot (local.get $m5)
                  (v128.and (i16x8.gt_s (v128.load offset=80 (local.get $a)) (local.get $bin))
                    (local.get $clr))))
                (local.set $m6 (v128.andnot (local.get $m6)
                  (v128.and (i16x8.gt_s (v128.load offset=96 (local.get $a)) (local.get $bin))
                    (local.get $clr))))
                (local.set $m7 (v128.andnot (local.get $m7)
                  (v128.and (i16x8.gt_s (v128.load offset=112 (local.get $a)) (local.get $bin))
                    (local.get $clr))))
                (local.set $np (i32.add (local.get $np) (i32.const 8)))
                (br $nodeLoop)))
            (v128.store offset=0 (i32.const 0) (local.get $m0))
            (v128.store offset=16 (i32.const 0) (local.get $m1))
            (v128.store offset=32 (i32.const 0) (local.get $m2))
            (v128.store offset=48 (i32.const 0) (local.get $m3))
            (v128.store offset=64 (i32.const 0) (local.get $m4))
            (v128.store offset=80 (i32.const 0) (local.get $m5))
            (v128.store offset=96 (i32.const 0) (local.get $m6))
            (v128.store offset=112 (i32.const 0) (local.get $m7))
            ;; Each row adds its leaf's value to its class's running sum, two rows per f64x2.
            (local.set $ap (i32.add (local.get $ab) (i32.shl (local.get $k) (i32.const 9))))
            (local.set $j (i32.const 0))
            (loop $rowLoop
              (local.set $ix (call $leafOffsets (v128.load (local.get $j))))
              (local.set $v
                (v128.load64_lane 1
                  (i32.add (local.get $lp) (i16x8.extract_lane_u 1 (local.get $ix)))
                  (v128.load64_zero
                    (i32.add (local.get $lp) (i16x8.extract_lane_u 0 (local.get $ix))))))
              (v128.store offset=0 (local.get $ap)
                (f64x2.add (v128.load offset=0 (local.get $ap)) (local.get $v)))
              (local.set $v
                (v128.load64_lane 1
                  (i32.add (local.get $lp) (i16x8.extract_lane_u 3 (local.get $ix)))
                  (v128.load64_zero
                    (i32.add (local.get $lp) (i16x8.extract_lane_u 2 (local.get $ix))))))
              (v128.store offset=16 (local.get $ap)
                (f64x2.add (v128.load offset=16 (local.get $ap)) (local.get $v)))
              (local.set $v
                (v128.load64_lane 1
                  (i32.add (local.get $lp) (i16x8.extract_lane_u 5 (local.get $ix)))
                  (v128.load64_zero
                    (i32.add (local.get $lp) (i16x8.extract_lane_u 4 (local.get $ix))))))
              (v128.store offset=32 (local.get $ap)
                (f64x2.add (v128.load offset=32 (local.get $ap)) (local.get $v)))
              (local.set $v
                (v128.load64_lane 1
                  (i32.add (local.get $lp) (i16x8.extract_lane_u 7 (local.get $ix)))
                  (v128.load64_zero
                    (i32.add (local.get $lp) (i16x8.extract_lane_u 6 (local.get $ix))))))
              (v128.store offset=48 (local.get $ap)
                (f64x2.add (v128.load offset=48 (local.get $ap)) (local.get $v)))
              (local.set $ap (i32.add (local.get $ap) (i32.const 64)))
              (local.set $j (i32.add (local.get $j) (i32.const 16)))
              (br_if $rowLoop (i32.lt_u (local.get $j) (i32.const 128))))
            (local.set $lp (i32.add (local.get $lp) (i32.const 128)))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (if (i32.eq (local.get $k) (local.get $classes)) (then (local.set $k (i32.const 0))))
            (br $treeLoop)))
        (local.set $cb (i32.add (local.get $cb) (local.get $codeStride)))
        (local.set $ab (i32.add (local.get $ab) (i32.shl (local.get $classes) (i32.const 9))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $blockLoop)))))
