using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Beamline.Benchmarks.InProcessExecBenchmarks).Assembly).Run(args);
