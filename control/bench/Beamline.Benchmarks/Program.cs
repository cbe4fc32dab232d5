using BenchmarkDotNet.Running;

if (args is ["--policy-cpu-time", ..])
{
    Beamline.Benchmarks.PolicyLanguageBenchmarks.ReportCpuTime();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Beamline.Benchmarks.InProcessExecBenchmarks).Assembly).Run(args);
