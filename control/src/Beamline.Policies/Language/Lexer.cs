using System.Globalization;
using System.Text;

namespace Beamline.Policies.Language;

/// <summary>
/// Turns policy source into tokens, Python-style: indentation opens and closes blocks
/// (<see cref="TokenKind.Indent"/>/<see cref="TokenKind.Dedent"/>), line ends inside brackets are
/// ignored, <c>#</c> starts a comment. Durations (<c>500ms</c>, <c>2s</c>, <c>10m</c>, <c>1h</c>)
/// are numbers in milliseconds.
/// </summary>
internal sealed class Lexer
{
    /// <summary>The reserved words.</summary>
    public static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "policy", "def", "let", "if", "elif", "else", "match", "case", "route", "use", "fallback", "with",
        "and", "or", "not", "in", "true", "false", "none", "pass",
    };

    private static readonly string[] Symbols =
        ["==", "!=", "<=", ">=", "->", "(", ")", "[", "]", "{", "}", ",", ":", ".", "=", "<", ">", "+", "-", "*", "/", "%"];

    private readonly string _text;
    private readonly List<Token> _tokens = [];
    private readonly Stack<int> _indents = new();
    private int _position;
    private int _line = 1;
    private int _lineStart;
    private int _brackets;

    private Lexer(string text) => _text = text;

    /// <summary>Tokenizes <paramref name="text"/>; throws <see cref="PolicySourceException"/> on a bad character or indentation.</summary>
    public static List<Token> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lexer = new Lexer(text);
        lexer.Run();
        return lexer._tokens;
    }

    private int Column => _position - _lineStart + 1;

    private void Run()
    {
        _indents.Push(0);
        var atLineStart = true;
        while (_position < _text.Length)
        {
            if (atLineStart && _brackets == 0)
            {
                // A blank or comment-only line leaves the next line at a line start too.
                atLineStart = !Indentation();
                if (atLineStart)
                {
                    continue;
                }
            }
            var c = _text[_position];
            if (c == '\n')
            {
                // Inside brackets a line end is only space: no new line starts.
                atLineStart = _brackets == 0;
                NewLine();
                continue;
            }
            if (c is ' ' or '\r' or '\t')
            {
                _position++;
                continue;
            }
            if (c == '#')
            {
                SkipComment();
                continue;
            }
            if (char.IsAsciiDigit(c))
            {
                NumberToken();
            }
            else if (char.IsAsciiLetter(c) || c == '_')
            {
                NameToken();
            }
            else if (c is '"' or '\'')
            {
                StringToken(c);
            }
            else
            {
                SymbolToken();
            }
        }
        if (_tokens.Count > 0 && _tokens[^1].Kind is not (TokenKind.Newline or TokenKind.Dedent))
        {
            Add(TokenKind.Newline, "\\n", 0, _line, Column);
        }
        while (_indents.Count > 1)
        {
            _indents.Pop();
            Add(TokenKind.Dedent, "", 0, _line, Column);
        }
        Add(TokenKind.EndOfFile, "", 0, _line, Column);
    }

    // Measures a line's indentation; false for a blank or comment-only line (no tokens, no block change).
    private bool Indentation()
    {
        var start = _position;
        while (_position < _text.Length && _text[_position] is ' ' or '\t' or '\r')
        {
            if (_text[_position] == '\t')
            {
                throw new PolicySourceException(_line, Column, "indent with spaces, not tabs");
            }
            _position++;
        }
        if (_position >= _text.Length || _text[_position] is '\n' or '#')
        {
            if (_position < _text.Length && _text[_position] == '#')
            {
                SkipComment();
            }
            if (_position < _text.Length)
            {
                _position++;
                _line++;
                _lineStart = _position;
            }
            return false;
        }
        var width = _position - start;
        if (width > _indents.Peek())
        {
            _indents.Push(width);
            Add(TokenKind.Indent, "", 0, _line, Column);
        }
        while (width < _indents.Peek())
        {
            _indents.Pop();
            if (width > _indents.Peek())
            {
                throw new PolicySourceException(_line, Column, "this line's indentation matches no enclosing block");
            }
            Add(TokenKind.Dedent, "", 0, _line, Column);
        }
        return true;
    }

    private void NewLine()
    {
        if (_brackets == 0 && _tokens.Count > 0 && _tokens[^1].Kind is not (TokenKind.Newline or TokenKind.Indent or TokenKind.Dedent))
        {
            Add(TokenKind.Newline, "\\n", 0, _line, Column);
        }
        _position++;
        _line++;
        _lineStart = _position;
    }

    private void SkipComment()
    {
        while (_position < _text.Length && _text[_position] != '\n')
        {
            _position++;
        }
    }

    private void NumberToken()
    {
        var start = _position;
        var column = Column;
        while (_position < _text.Length && (char.IsAsciiDigit(_text[_position]) || _text[_position] == '_'))
        {
            _position++;
        }
        if (_position + 1 < _text.Length && _text[_position] == '.' && char.IsAsciiDigit(_text[_position + 1]))
        {
            _position++;
            while (_position < _text.Length && char.IsAsciiDigit(_text[_position]))
            {
                _position++;
            }
        }
        var digits = _text[start.._position].Replace("_", "", StringComparison.Ordinal);
        var value = double.Parse(digits, NumberStyles.Float, CultureInfo.InvariantCulture);
        var unitStart = _position;
        while (_position < _text.Length && char.IsAsciiLetter(_text[_position]))
        {
            _position++;
        }
        var unit = _text[unitStart.._position];
        if (unit.Length == 0)
        {
            Add(TokenKind.Number, digits, value, _line, column);
            return;
        }
        var scale = unit switch
        {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            _ => throw new PolicySourceException(_line, column + unitStart - start,
                $"unknown duration unit '{unit}' (use ms, s, m or h)"),
        };
        Add(TokenKind.Duration, _text[start.._position], value * scale, _line, column);
    }

    private void NameToken()
    {
        var start = _position;
        var column = Column;
        while (_position < _text.Length && (char.IsAsciiLetterOrDigit(_text[_position]) || _text[_position] == '_'))
        {
            _position++;
        }
        var name = _text[start.._position];
        Add(Keywords.Contains(name) ? TokenKind.Keyword : TokenKind.Name, name, 0, _line, column);
    }

    private void StringToken(char quote)
    {
        var column = Column;
        var text = new StringBuilder();
        _position++;
        while (true)
        {
            if (_position >= _text.Length || _text[_position] == '\n')
            {
                throw new PolicySourceException(_line, column, "this string is not closed on its line");
            }
            var c = _text[_position++];
            if (c == quote)
            {
                break;
            }
            if (c != '\\')
            {
                text.Append(c);
                continue;
            }
            if (_position >= _text.Length)
            {
                throw new PolicySourceException(_line, column, "this string is not closed on its line");
            }
            var escaped = _text[_position++];
            text.Append(escaped switch
            {
                'n' => '\n',
                't' => '\t',
                '\\' or '"' or '\'' => escaped,
                _ => throw new PolicySourceException(_line, Column - 2, $"unknown escape '\\{escaped}'"),
            });
        }
        Add(TokenKind.String, text.ToString(), 0, _line, column);
    }

    private void SymbolToken()
    {
        foreach (var symbol in Symbols)
        {
            if (string.CompareOrdinal(_text, _position, symbol, 0, symbol.Length) == 0)
            {
                _brackets += symbol is "(" or "[" or "{" ? 1 : symbol is ")" or "]" or "}" ? -1 : 0;
                _brackets = Math.Max(0, _brackets);
                Add(TokenKind.Symbol, symbol, 0, _line, Column);
                _position += symbol.Length;
                return;
            }
        }
        throw new PolicySourceException(_line, Column, $"unexpected character '{_text[_position]}'");
    }

    private void Add(TokenKind kind, string text, double number, int line, int column) =>
        _tokens.Add(new Token(kind, text, number, line, column));
}
