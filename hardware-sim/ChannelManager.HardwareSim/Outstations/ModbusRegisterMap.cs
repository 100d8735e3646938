namespace ChannelManager.HardwareSim.Outstations;

/// <summary>
/// The four Modbus data tables of a simulated outstation (Application Protocol V1.1b3 §4.3), addressed
/// 0..Size-1. Thread-safe: a test or the demo may change values while a master polls.
/// </summary>
public sealed class ModbusRegisterMap
{
    private readonly Lock _gate = new();
    private readonly bool[] _coils;
    private readonly bool[] _discreteInputs;
    private readonly ushort[] _holdingRegisters;
    private readonly ushort[] _inputRegisters;

    public ModbusRegisterMap(int size = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, 0x10000);
        Size = size;
        _coils = new bool[size];
        _discreteInputs = new bool[size];
        _holdingRegisters = new ushort[size];
        _inputRegisters = new ushort[size];
    }

    public int Size { get; }

    public void SetCoils(int address, params bool[] values) => Set(_coils, address, values);

    public void SetDiscreteInputs(int address, params bool[] values) => Set(_discreteInputs, address, values);

    public void SetHoldingRegisters(int address, params ushort[] values) => Set(_holdingRegisters, address, values);

    public void SetInputRegisters(int address, params ushort[] values) => Set(_inputRegisters, address, values);

    public bool[] GetCoils(int address, int count) => Get(_coils, address, count);

    public bool[] GetDiscreteInputs(int address, int count) => Get(_discreteInputs, address, count);

    public ushort[] GetHoldingRegisters(int address, int count) => Get(_holdingRegisters, address, count);

    public ushort[] GetInputRegisters(int address, int count) => Get(_inputRegisters, address, count);

    internal bool InRange(int address, int count) => address >= 0 && count >= 0 && address + count <= Size;

    /// <summary>Runs <paramref name="action"/> on the raw tables under the map's lock (one request at a time).</summary>
    internal T Access<T>(Func<Tables, T> action)
    {
        lock (_gate)
        {
            return action(new Tables(_coils, _discreteInputs, _holdingRegisters, _inputRegisters));
        }
    }

    private void Set<T>(T[] table, int address, T[] values)
    {
        if (!InRange(address, values.Length))
        {
            throw new ArgumentOutOfRangeException(nameof(address), $"{address}+{values.Length} is outside 0..{Size - 1}.");
        }

        lock (_gate)
        {
            values.CopyTo(table, address);
        }
    }

    private T[] Get<T>(T[] table, int address, int count)
    {
        if (!InRange(address, count))
        {
            throw new ArgumentOutOfRangeException(nameof(address), $"{address}+{count} is outside 0..{Size - 1}.");
        }

        lock (_gate)
        {
            return table.AsSpan(address, count).ToArray();
        }
    }

    internal readonly record struct Tables(bool[] Coils, bool[] DiscreteInputs, ushort[] HoldingRegisters, ushort[] InputRegisters);
}
