using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Beamline.Interop.Exec;
using Beamline.Interop.Tests.Infrastructure;

namespace Beamline.Interop.Tests.Exec;

/// <summary>
/// Holds every struct that crosses the C ABI against beamline_exec.h itself: a C probe including the
/// header prints sizeof/offsetof for each field, and the C# mirrors must agree field by field.
/// (No nats.c struct crosses the boundary: only opaque handles, strings and scalars.)
/// </summary>
public sealed class LayoutTests
{
    // C struct → (C# mirror, C fields in declaration order). C field names map to PascalCase C# fields.
    private static readonly (string CName, Type Mirror, string[] Fields)[] Structs =
    [
        ("bl_buffer", typeof(BlBuffer), ["data", "len"]),
        ("bl_runtime_options", typeof(BlRuntimeOptions), 
            ["struct_size", "flags", "worker_id", "worker_id_len", "config_json", "config_json_len"]),
        ("bl_exec_info", typeof(BlExecInfo),
            ["struct_size", "gpu_device", "tenant_id", "tenant_id_len", "block_id", "block_id_len", "type", "type_len",
             "deadline_mono_ns", "stream", "reserved"]),
        ("bl_executor_def", typeof(BlExecutorDef), ["struct_size", "flags", "type", "type_len", "user", "execute", "release"]),
        ("bl_api", typeof(BlApi),
            ["struct_size", "version", "status_create", "status_code", "status_message", "status_release", "buffer_release",
             "runtime_create", "runtime_release", "runtime_register_executor", "runtime_load_plugin", "runtime_list_executors",
             "execute", "execute_stream", "context_info", "context_write", "context_emit_chunk", "context_cancelled",
             "execute_ex", "execute_async"]),
        ("bl_exec_overrides", typeof(BlExecOverrides), ["struct_size", "gpu_device", "cancel_flag"]),
        ("bl_async_callbacks", typeof(BlAsyncCallbacks), ["struct_size", "reserved", "on_chunk", "on_result"]),
    ];

    private static readonly Lazy<Dictionary<string, long>> Probe = new(RunProbe);

    public static TheoryData<string> StructNames()
    {
        var data = new TheoryData<string>();
        foreach ((string name, _, _) in Structs)
        {
            data.Add(name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(StructNames))]
    public void Struct_MatchesHeader_SizeAndEveryOffset(string cName)
    {
        (_, Type mirror, string[] fields) = Structs.Single(s => s.CName == cName);
        Dictionary<string, long> probe = Probe.Value;

        Assert.Equal(probe[$"sizeof {cName}"], SizeOf(mirror));

        FieldInfo[] csharpFields = mirror.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        Assert.Equal(fields.Length, csharpFields.Length);
        foreach (string field in fields)
        {
            string csharpName = CSharpName(cName, field);
            Assert.Contains(csharpFields, f => f.Name == csharpName);
            long expected = probe[$"offsetof {cName}.{field}"];
            long actual = Marshal.OffsetOf(mirror, csharpName).ToInt64();
            Assert.True(expected == actual, $"{cName}.{field}: offset {expected} in C, {actual} in C# ({mirror.Name}.{csharpName}).");
        }
    }

    [Fact]
    public void BlApiFields_AreDeclaredInHeaderOrder()
    {
        // Declaration order is what a sequential layout follows: any reordering shows up here first.
        string[] names = typeof(BlApi).GetFields(BindingFlags.Instance | BindingFlags.Public)
            .OrderBy(f => Marshal.OffsetOf<BlApi>(f.Name).ToInt64())
            .Select(f => f.Name)
            .ToArray();
        string[] expected = Structs.Single(s => s.CName == "bl_api").Fields.Select(f => CSharpName("bl_api", f)).ToArray();
        Assert.Equal(expected, names);
    }

    [Fact]
    public void ApiVersion_MatchesHeader()
    {
        Assert.Equal(BlApi.Version, Probe.Value["BL_API_VERSION"]);
        Assert.Equal(BlRuntimeOptions.NoBuiltins, Probe.Value["BL_RUNTIME_NO_BUILTINS"]);
    }

    [Fact]
    public void ErrorCodes_MatchHeader()
    {
        (string C, BlErrc CSharp)[] codes =
        [
            ("BL_OK", BlErrc.Ok), ("BL_ERR_INVALID_ARGUMENT", BlErrc.InvalidArgument), ("BL_ERR_INVALID_INPUT", BlErrc.InvalidInput),
            ("BL_ERR_UNKNOWN_EXECUTOR", BlErrc.UnknownExecutor), ("BL_ERR_DEADLINE_EXCEEDED", BlErrc.DeadlineExceeded),
            ("BL_ERR_RESOURCE_UNAVAILABLE", BlErrc.ResourceUnavailable), ("BL_ERR_CANCELLED", BlErrc.Cancelled),
            ("BL_ERR_VERSION_MISMATCH", BlErrc.VersionMismatch), ("BL_ERR_ALREADY_EXISTS", BlErrc.AlreadyExists),
            ("BL_ERR_NOT_FOUND", BlErrc.NotFound), ("BL_ERR_PERMISSION_DENIED", BlErrc.PermissionDenied),
            ("BL_ERR_INTERNAL", BlErrc.Internal), ("BL_ERR_NOT_ASYNC", BlErrc.NotAsync),
        ];
        Assert.Equal(codes.Length, Enum.GetValues<BlErrc>().Length);
        foreach ((string c, BlErrc csharp) in codes)
        {
            Assert.True(Probe.Value[c] == (long)csharp, $"{c} = {Probe.Value[c]} in C, {csharp} = {(int)csharp} in C#.");
        }
    }

    private static long SizeOf(Type mirror) =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(mirror).Invoke(null, null)!;

    private static string CSharpName(string cStruct, string cField)
    {
        if (cStruct == "bl_api" && cField == "version")
        {
            return nameof(BlApi.ApiVersion);
        }

        var name = new StringBuilder(cField.Length);
        foreach (string part in cField.Split('_'))
        {
            name.Append(char.ToUpperInvariant(part[0])).Append(part.AsSpan(1));
        }

        return name.ToString();
    }

    private static Dictionary<string, long> RunProbe()
    {
        var source = new StringBuilder();
        source.AppendLine("#include <stddef.h>");
        source.AppendLine("#include <stdio.h>");
        source.AppendLine("#include <beamline/beamline_exec.h>");
        source.AppendLine("int main(void) {");
        foreach ((string cName, _, string[] fields) in Structs)
        {
            source.AppendLine(CultureInfo.InvariantCulture, $"  printf(\"sizeof {cName} %zu\\n\", sizeof({cName}));");
            foreach (string field in fields)
            {
                source.AppendLine(CultureInfo.InvariantCulture, $"  printf(\"offsetof {cName}.{field} %zu\\n\", offsetof({cName}, {field}));");
            }
        }

        source.AppendLine("  printf(\"BL_API_VERSION %u\\n\", (unsigned)BL_API_VERSION);");
        source.AppendLine("  printf(\"BL_RUNTIME_NO_BUILTINS %u\\n\", (unsigned)BL_RUNTIME_NO_BUILTINS);");
        foreach (string code in new[]
                 {
                     "BL_OK", "BL_ERR_INVALID_ARGUMENT", "BL_ERR_INVALID_INPUT", "BL_ERR_UNKNOWN_EXECUTOR", "BL_ERR_DEADLINE_EXCEEDED",
                     "BL_ERR_RESOURCE_UNAVAILABLE", "BL_ERR_CANCELLED", "BL_ERR_VERSION_MISMATCH", "BL_ERR_ALREADY_EXISTS",
                     "BL_ERR_NOT_FOUND", "BL_ERR_PERMISSION_DENIED", "BL_ERR_INTERNAL", "BL_ERR_NOT_ASYNC",
                 })
        {
            source.AppendLine(CultureInfo.InvariantCulture, $"  printf(\"{code} %d\\n\", (int){code});");
        }

        source.AppendLine("  return 0;");
        source.AppendLine("}");

        Assert.True(File.Exists(Repo.ExecHeader), $"The C ABI header is missing: {Repo.ExecHeader}");
        string probe = CCompiler.Compile("layout_probe", source.ToString(), sharedLibrary: false);
        (int exitCode, string output) = CCompiler.Run(probe, []);
        Assert.True(exitCode == 0, $"The layout probe failed ({exitCode}):\n{output}");

        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int space = line.LastIndexOf(' ');
            values[line[..space]] = long.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }

        return values;
    }
}
