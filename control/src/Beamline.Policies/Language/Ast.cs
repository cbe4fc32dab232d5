using System.Collections.Immutable;

namespace Beamline.Policies.Language;

/// <summary>A node of the syntax tree, with where it starts in the source.</summary>
internal abstract record Node(int Line, int Column)
{
    public string Where => $"{Line}:{Column}";
}

/// <summary>An expression.</summary>
internal abstract record Expr(int Line, int Column) : Node(Line, Column);

internal sealed record LiteralExpr(Value Value, int Line, int Column) : Expr(Line, Column);

internal sealed record NameExpr(string Name, int Line, int Column) : Expr(Line, Column);

internal sealed record MemberExpr(Expr Target, string Member, int Line, int Column) : Expr(Line, Column);

internal sealed record IndexExpr(Expr Target, Expr Index, int Line, int Column) : Expr(Line, Column);

internal sealed record NamedArg(string Name, Expr Value);

internal sealed record CallExpr(string Callee, ImmutableArray<Expr> Args, ImmutableArray<NamedArg> Named, int Line, int Column) : Expr(Line, Column);

internal sealed record UnaryExpr(string Op, Expr Operand, int Line, int Column) : Expr(Line, Column);

internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Line, int Column) : Expr(Line, Column);

internal sealed record ConditionalExpr(Expr Condition, Expr Then, Expr Else, int Line, int Column) : Expr(Line, Column);

internal sealed record ListExpr(ImmutableArray<Expr> Items, int Line, int Column) : Expr(Line, Column);

internal sealed record MapExpr(ImmutableArray<Expr> Keys, ImmutableArray<Expr> Values, int Line, int Column) : Expr(Line, Column);

/// <summary>A statement.</summary>
internal abstract record Stmt(int Line, int Column) : Node(Line, Column);

internal sealed record LetStmt(string Name, Expr Value, int Line, int Column) : Stmt(Line, Column);

internal sealed record IfBranch(Expr Condition, ImmutableArray<Stmt> Body);

internal sealed record IfStmt(ImmutableArray<IfBranch> Branches, ImmutableArray<Stmt>? Else, int Line, int Column) : Stmt(Line, Column);

/// <summary>One <c>case</c>: its patterns (literal expressions; null for <c>_</c>) and body.</summary>
internal sealed record MatchCase(ImmutableArray<Expr?> Patterns, ImmutableArray<Stmt> Body, int Line, int Column);

internal sealed record MatchStmt(Expr Subject, ImmutableArray<MatchCase> Cases, int Line, int Column) : Stmt(Line, Column);

internal sealed record RouteStmt(Expr Target, int Line, int Column) : Stmt(Line, Column);

internal sealed record UseStmt(string Policy, ImmutableArray<Expr> Args, ImmutableArray<NamedArg> Named, int Line, int Column) : Stmt(Line, Column);

internal sealed record FallbackStmt(Expr Targets, int Line, int Column) : Stmt(Line, Column);

internal sealed record WithStmt(Expr Setting, int Line, int Column) : Stmt(Line, Column);

internal sealed record PassStmt(int Line, int Column) : Stmt(Line, Column);

/// <summary>A parameter of a policy (with its default) or of a function (no default).</summary>
internal sealed record Parameter(string Name, Expr? Default, int Line, int Column);

/// <summary><c>def name(params): expression</c>.</summary>
internal sealed record FunctionDecl(string Name, ImmutableArray<Parameter> Parameters, Expr Body, int Line, int Column);

/// <summary><c>policy name(params): body</c>.</summary>
internal sealed record PolicyDecl(string Name, ImmutableArray<Parameter> Parameters, ImmutableArray<Stmt> Body, int Line, int Column);

/// <summary>A parsed source file: its functions and its policy.</summary>
internal sealed record PolicyModule(ImmutableArray<FunctionDecl> Functions, PolicyDecl Policy, string Source);
