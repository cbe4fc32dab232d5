namespace Beamline.Policies.Language;

/// <summary>The kinds of token the lexer produces.</summary>
internal enum TokenKind
{
    EndOfFile,
    Newline,
    Indent,
    Dedent,
    Name,
    Number,
    Duration,
    String,
    Keyword,
    Symbol,
}

/// <summary>One token with the line and column (1-based) where it starts.</summary>
/// <param name="Kind">What it is.</param>
/// <param name="Text">The keyword, name, symbol or the decoded string.</param>
/// <param name="Number">The value of a number, or of a duration in milliseconds.</param>
/// <param name="Line">The line, from 1.</param>
/// <param name="Column">The column, from 1.</param>
internal readonly record struct Token(TokenKind Kind, string Text, double Number, int Line, int Column)
{
    public bool Is(TokenKind kind, string text) => Kind == kind && string.Equals(Text, text, StringComparison.Ordinal);

    public bool IsSymbol(string text) => Is(TokenKind.Symbol, text);

    public bool IsKeyword(string text) => Is(TokenKind.Keyword, text);

    public string Describe() => Kind switch
    {
        TokenKind.EndOfFile => "the end of the file",
        TokenKind.Newline => "the end of the line",
        TokenKind.Indent => "an indented block",
        TokenKind.Dedent => "the end of a block",
        TokenKind.String => $"the string \"{Text}\"",
        TokenKind.Number or TokenKind.Duration => $"'{Text}'",
        _ => $"'{Text}'",
    };
}

/// <summary>A syntax or meaning error at a line and column of a policy's source.</summary>
public sealed class PolicySourceException : Exception
{
    /// <summary>Creates the error.</summary>
    public PolicySourceException(int line, int column, string message)
        : base(message)
    {
        Line = line;
        Column = column;
    }

    /// <summary>The line, from 1.</summary>
    public int Line { get; }

    /// <summary>The column, from 1.</summary>
    public int Column { get; }

    /// <summary>The error as a <see cref="PolicyError"/> of <paramref name="file"/>.</summary>
    public PolicyError ToPolicyError(string file) => PolicyError.At(file, Line, Column, Message);
}
