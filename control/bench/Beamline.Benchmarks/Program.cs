using BenchmarkDotNet.Running;

if (args is ["--policy-cpu-time", ..])
{
    Beamline.Benchmarks.PolicyLanguageBenchmarks.ReportCpuTime();
    return;
}

if (args is ["shared-state", ..])
{
    await Beamline.Benchmarks.SharedStateLoop.RunAsync();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Beamline.Benchmarks.InProcessExecBenchmarks).Assembly).Run(args);
